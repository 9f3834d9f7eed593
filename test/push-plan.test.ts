import { describe, expect, it } from "vitest";
import { coalesce, type OutboxRow } from "../src/core/push/plan.ts";
import { checkValue } from "../src/core/push/validate.ts";

let seq = 0;
function row(op: OutboxRow["op"], changes: Record<string, string> = {}, extra: Partial<OutboxRow> = {}): OutboxRow {
  seq++;
  return { id: String(seq), object_type: "contacts", record_id: null, local_id: "L1", op, changes, previous: {}, attempts: 0, created_at: new Date(), ...extra };
}

describe("folding a record's queued changes", () => {
  it("create + updates = one create with the latest values", () => {
    const [c] = coalesce([row("create", { email: "a@x", firstname: "A" }), row("update", { firstname: "B" }), row("update", { lastname: "C" })]);
    expect(c).toMatchObject({ action: "upsert", creates: true, properties: { email: "a@x", firstname: "B", lastname: "C" } });
    expect(c!.rowIds).toHaveLength(3);
  });
  it("updates of a known record = one update; the first previous value is kept", () => {
    const [c] = coalesce([
      row("update", { firstname: "B" }, { record_id: "9", previous: { firstname: "A" } }),
      row("update", { firstname: "C" }, { record_id: "9", previous: { firstname: "B" } }),
    ]);
    expect(c).toMatchObject({ action: "update", recordId: "9", properties: { firstname: "C" }, previous: { firstname: "A" } });
  });
  it("a create never sent + a delete = nothing; one that may have reached HubSpot is upserted, then archived", () => {
    expect(coalesce([row("create", { email: "a@x" }), row("archive")])[0]).toMatchObject({ action: "none" });
    expect(coalesce([row("create", { email: "a@x" }, { attempts: 1 }), row("archive")])[0]).toMatchObject({ action: "archive", upsertFirst: true });
    expect(coalesce([row("update", { a: "1" }, { record_id: "5" }), row("archive", {}, { record_id: "5" })])[0]).toMatchObject({ action: "archive", recordId: "5" });
  });
  it("keeps records apart", () => {
    const out = coalesce([row("create", { a: "1" }, { local_id: "L1" }), row("create", { a: "2" }, { local_id: "L2" })]);
    expect(out.map((c) => c.localId)).toEqual(["L1", "L2"]);
  });
});

describe("property rules for the dry run", () => {
  const def = (extra: Record<string, unknown>) => ({ name: "p", type: "string", ...extra });
  it("knows HubSpot's value rules", () => {
    expect(checkValue("contacts", undefined, "nope", "x")?.code).toBe("PROPERTY_DOESNT_EXIST");
    expect(checkValue("contacts", def({ calculated: true }), "p", "x")?.code).toBe("READ_ONLY_VALUE");
    expect(checkValue("contacts", def({ modificationMetadata: { readOnlyValue: true } }), "p", "x")?.code).toBe("READ_ONLY_VALUE");
    expect(checkValue("contacts", def({ type: "number" }), "p", "12.5")).toBeNull();
    expect(checkValue("contacts", def({ type: "number" }), "p", "twelve")?.code).toBe("INVALID_NUMBER");
    expect(checkValue("contacts", def({ type: "bool" }), "p", "yes")?.code).toBe("INVALID_BOOLEAN");
    expect(checkValue("contacts", def({ type: "date" }), "p", "2024-02-30x")?.code).toBe("INVALID_DATE");
    expect(checkValue("contacts", def({ type: "datetime" }), "p", "2024-09-11T13:27:39.356Z")).toBeNull();
    const e = def({ type: "enumeration", fieldType: "checkbox", options: [{ value: "a" }, { value: "b" }] });
    expect(checkValue("contacts", e, "p", "a;b")).toBeNull();
    expect(checkValue("contacts", e, "p", "a;c")?.code).toBe("INVALID_OPTION");
    expect(checkValue("contacts", def({ name: "email" }), "email", "not-an-email")?.code).toBe("INVALID_EMAIL");
    expect(checkValue("contacts", def({ type: "number" }), "p", "")).toBeNull();
  });
});
