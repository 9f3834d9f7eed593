import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Client } from "@hubspot/api-client";
import { apiError, testSimulator, type TestSimulator } from "./support/simulator.ts";

// Batch endpoints (100-input cap, 207 partial results, objectWriteTraceId rule, upsert) and merges.

let sim: TestSimulator;
let hs: Client;

beforeAll(async () => {
  sim = await testSimulator();
  hs = sim.client();
});
afterAll(async () => sim.close());
beforeEach(async () => {
  await sim.control.reset();
  await sim.control.configure({ mergedIdLookup: "404", mergeCreatesNewRecord: true, mergedIdBatchUpdate: "omit" });
});


const contacts = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ properties: { email: `b${from + i}@example.com` }, associations: [] }));

describe("batch limits and partial results", () => {
  it("refuses more than 100 inputs on every batch endpoint", async () => {
    const ids = Array.from({ length: 101 }, (_, i) => ({ id: String(i + 1) }));
    const calls = [
      hs.crm.contacts.batchApi.read({ inputs: ids, properties: [], propertiesWithHistory: [] }),
      hs.crm.contacts.batchApi.create({ inputs: contacts(101) }),
      hs.crm.contacts.batchApi.update({ inputs: ids.map((x) => ({ ...x, properties: {} })) }),
      hs.crm.contacts.batchApi.upsert({ inputs: ids.map((x) => ({ ...x, idProperty: "email", properties: {} })) }),
      hs.crm.contacts.batchApi.archive({ inputs: ids }),
    ];
    for (const call of calls) {
      const { code, body } = await apiError(call);
      expect(code).toBe(400);
      expect(body.category).toBe("VALIDATION_ERROR");
    }
    expect(await sim.control.listRecords("contacts")).toHaveLength(0);
  });

  it("batch read answers 207 with OBJECT_NOT_FOUND for unknown ids", async () => {
    const created = await hs.crm.contacts.batchApi.create({ inputs: contacts(3) });
    expect(created.results).toHaveLength(3);
    const ids = created.results.map((r) => r.id);
    const res = await hs.apiRequest({ method: "POST", path: "/crm/v3/objects/contacts/batch/read", body: { inputs: [...ids, "999999"].map((id) => ({ id })), properties: ["email"] } });
    expect(res.status).toBe(207);
    const body = (await res.json()) as Record<string, any>;
    expect(body.results).toHaveLength(3);
    expect(body.numErrors).toBe(1);
    expect(body.errors[0]).toMatchObject({
      status: "error",
      category: "OBJECT_NOT_FOUND",
      message: "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
      context: { ids: ["999999"] },
    });
    // idProperty and archived
    const byEmail = await hs.crm.contacts.batchApi.read({ inputs: [{ id: "b1@example.com" }], idProperty: "email", properties: ["email"], propertiesWithHistory: [] });
    expect(byEmail.results[0]!.id).toBe(ids[1]);
    await hs.crm.contacts.batchApi.archive({ inputs: [{ id: ids[0]! }] });
    const archived = await hs.crm.contacts.batchApi.read({ inputs: [{ id: ids[0]! }], properties: [], propertiesWithHistory: [] }, true);
    expect(archived.results[0]!.archived).toBe(true);
  });

  it("batch create with objectWriteTraceIds writes the good inputs and reports the bad ones (207)", async () => {
    const res = await hs.apiRequest({
      method: "POST",
      path: "/crm/v3/objects/contacts/batch/create",
      body: {
        inputs: [
          { properties: { email: "good@example.com" }, objectWriteTraceId: "t1" },
          { properties: { email: "x@example.com", missing: "1" }, objectWriteTraceId: "t2" },
        ],
      },
    });
    expect(res.status).toBe(207);
    const body = (await res.json()) as Record<string, any>;
    expect(body.results.map((r: any) => r.properties.email)).toEqual(["good@example.com"]);
    expect(body.errors[0]).toMatchObject({ category: "VALIDATION_ERROR", context: { objectWriteTraceId: ["t2"] } });
    expect(JSON.parse(body.errors[0].message.replace("Property values were not valid: ", ""))[0]).toMatchObject({ error: "PROPERTY_DOESNT_EXIST", name: "missing" });
  });

  it("batch create without objectWriteTraceIds refuses the whole batch", async () => {
    const { code, body } = await apiError(
      hs.crm.contacts.batchApi.create({ inputs: [{ properties: { email: "ok@example.com" }, associations: [] }, { properties: { lifecyclestage: "nope" }, associations: [] }] }),
    );
    expect(code).toBe(400);
    expect(body.category).toBe("VALIDATION_ERROR");
    expect(await sim.control.listRecords("contacts")).toHaveLength(0);
  });

  it("batch update and upsert refuse the whole batch (400) for one bad input, trace ids or not; partialBatchWrites 'all' answers 207", async () => {
    const created = await hs.crm.contacts.batchApi.create({ inputs: contacts(3) });
    const [a, b, c] = created.results.map((r) => r.id);
    const update = (path: "update" | "upsert") =>
      hs.apiRequest({
        method: "POST",
        path: `/crm/v3/objects/contacts/batch/${path}`,
        body: {
          inputs: [
            { id: path === "update" ? a : "b0@example.com", ...(path === "upsert" ? { idProperty: "email" } : {}), properties: { firstname: "Fine" }, objectWriteTraceId: "t1" },
            { id: path === "update" ? b : "b1@example.com", ...(path === "upsert" ? { idProperty: "email" } : {}), properties: { lifecyclestage: "nope" }, objectWriteTraceId: "t2" },
            { id: path === "update" ? c : "b2@example.com", ...(path === "upsert" ? { idProperty: "email" } : {}), properties: { hs_lead_status: "bad", firstname: "Also" }, objectWriteTraceId: "t3" },
          ],
        },
      });
    for (const path of ["update", "upsert"] as const) {
      const res = await update(path);
      expect(res.status, path).toBe(400);
      const body = (await res.json()) as Record<string, any>;
      expect(body.category).toBe("VALIDATION_ERROR");
      // the first bad input's problems, not which input it was
      const problems = JSON.parse(body.message.replace("Property values were not valid: ", ""));
      expect(problems).toEqual([expect.objectContaining({ error: "INVALID_OPTION", name: "lifecyclestage", message: expect.stringMatching(/^nope was not one of the allowed options/) })]);
      expect(body.message).not.toContain("t2");
      expect(JSON.stringify(body.context ?? {})).not.toContain(b!);
    }
    expect((await sim.control.listRecords("contacts")).map((r) => r.properties.firstname ?? null)).toEqual([null, null, null]);
    await sim.control.configure({ partialBatchWrites: "all" });
    try {
      const res = await update("update");
      expect(res.status).toBe(207);
      const body = (await res.json()) as Record<string, any>;
      expect(body.errors.map((e: any) => e.context.objectWriteTraceId[0])).toEqual(["t2", "t3"]);
      expect(body.results.map((r: any) => r.properties.firstname)).toEqual(["Fine"]);
    } finally {
      await sim.control.configure({ partialBatchWrites: "create" });
    }
  });

  it("an admin's validation rule refuses writes on the dated APIs only (or everywhere when configured), with the admin's message", async () => {
    const [a] = (await hs.crm.contacts.batchApi.create({ inputs: contacts(1) })).results.map((r) => r.id);
    const rule = { objectType: "contacts", property: "jobtitle", pattern: "^[A-Z]", message: "Job titles start with a capital letter" };
    await sim.control.configure({ validationRules: [rule] });
    try {
      const write = () => hs.apiRequest({ method: "POST", path: "/crm/v3/objects/contacts/batch/update", body: { inputs: [{ id: a, properties: { jobtitle: "lowercase" } }] } });
      expect((await write()).status).toBe(200); // a v3 path: HubSpot applies the rules from 2026-09 on
      await sim.control.configure({ validationRulesOn: "all" });
      const res = await write();
      expect(res.status).toBe(400);
      const body = (await res.json()) as Record<string, any>;
      expect(JSON.parse(body.message.replace("Property values were not valid: ", ""))).toEqual([
        expect.objectContaining({ name: "jobtitle", error: "VALIDATION_RULE", message: "Job titles start with a capital letter" }),
      ]);
    } finally {
      await sim.control.configure({ validationRules: [], validationRulesOn: "dated" });
    }
  });

  it("batch update changes the found records and reports unknown ids", async () => {
    const created = await hs.crm.contacts.batchApi.create({ inputs: contacts(2) });
    const [a, b] = created.results.map((r) => r.id);
    const ok = await hs.crm.contacts.batchApi.update({ inputs: [{ id: a!, properties: { firstname: "A" } }, { id: b!, properties: { firstname: "B" } }] });
    expect(ok.results.map((r) => r.properties.firstname).sort()).toEqual(["A", "B"]);
    const res = await hs.apiRequest({ method: "POST", path: "/crm/v3/objects/contacts/batch/update", body: { inputs: [{ id: a, properties: { lastname: "Z" } }, { id: "424242", properties: { lastname: "Z" } }] } });
    expect(res.status).toBe(207);
    const body = (await res.json()) as Record<string, any>;
    expect(body.errors[0]).toMatchObject({ category: "OBJECT_NOT_FOUND", context: { ids: ["424242"] } });
  });

  it("upserts on email and on unique-value properties, with the `new` flag", async () => {
    await sim.control.createRecord("contacts", { email: "known@example.com", firstname: "Old" });
    const res = await hs.crm.contacts.batchApi.upsert({
      inputs: [
        { id: "KNOWN@example.com", idProperty: "email", properties: { firstname: "New" } },
        { id: "fresh@example.com", idProperty: "email", properties: { firstname: "Fresh" } },
      ],
    });
    const byEmail = new Map(res.results.map((r) => [r.properties.email, r]));
    expect(byEmail.get("known@example.com")).toMatchObject({ _new: false });
    expect(byEmail.get("known@example.com")!.properties.firstname).toBe("New");
    expect(byEmail.get("fresh@example.com")).toMatchObject({ _new: true });
    await sim.control.createProperty("companies", { name: "external_id", type: "string", hasUniqueValue: true });
    const up1 = await hs.crm.companies.batchApi.upsert({ inputs: [{ id: "ext-1", idProperty: "external_id", properties: { name: "One" } }] });
    const up2 = await hs.crm.companies.batchApi.upsert({ inputs: [{ id: "ext-1", idProperty: "external_id", properties: { name: "Uno" } }] });
    expect(up1.results[0]!._new).toBe(true);
    expect(up2.results[0]).toMatchObject({ id: up1.results[0]!.id, _new: false });
    const notUnique = await apiError(hs.crm.companies.batchApi.upsert({ inputs: [{ id: "x", idProperty: "name", properties: {} }] }));
    expect(notUnique.code).toBe(400);
  });

  it("batch archive answers 204 and the records go to the archived list", async () => {
    const created = await hs.crm.contacts.batchApi.create({ inputs: contacts(3) });
    const res = await hs.apiRequest({ method: "POST", path: "/crm/v3/objects/contacts/batch/archive", body: { inputs: created.results.slice(0, 2).map((r) => ({ id: r.id })) } });
    expect(res.status).toBe(204);
    expect(await sim.control.listRecords("contacts", { archived: true })).toHaveLength(2);
  });
});

describe("merge", () => {
  const post = async (path: string, body: unknown) => {
    const res = await hs.apiRequest({ method: "POST", path, body });
    return { status: res.status, body: (await res.json()) as { id: string; properties: Record<string, string>; results?: Array<{ id: string; properties: Record<string, string> }>; errors?: unknown[] } };
  };

  it("contacts and companies become a new record with a new id, which both old ids resolve to", async () => {
    await sim.control.configure({ mergedIdLookup: "winner" });
    for (const [type, unique] of [["contacts", "email"], ["companies", "domain"]] as const) {
      const p = await sim.control.createRecord(type, { [unique]: `primary.${type}.example.com`, city: "from the primary" });
      const s2 = await sim.control.createRecord(type, { [unique]: `secondary.${type}.example.com`, city: "from the secondary", state: "from the secondary" });
      const { status, body: merged } = await post(`/crm/v3/objects/${type}/merge`, { primaryObjectId: p.id, objectIdToMerge: s2.id });
      expect(status).toBe(200);
      expect([p.id, s2.id]).not.toContain(merged.id);
      expect(Number(merged.id)).toBeGreaterThan(Number(s2.id));
      expect(merged.properties.hs_object_id).toBe(merged.id);
      expect(merged.properties.hs_merged_object_ids!.split(";").sort()).toEqual([p.id, s2.id].sort());
      // the primary's values win; the secondary fills the blanks
      expect(merged.properties[unique]).toBe(`primary.${type}.example.com`);
      expect(merged.properties.city).toBe("from the primary");
      expect(merged.properties.state).toBe("from the secondary");
      // GET and batch read of either old id answer the new record
      for (const old of [p.id, s2.id]) expect((await post(`/crm/v3/objects/${type}/batch/read`, { inputs: [{ id: old }] })).body.results!.map((r) => r.id)).toEqual([merged.id]);
      const get = await hs.apiRequest({ method: "GET", path: `/crm/v3/objects/${type}/${p.id}` });
      expect(((await get.json()) as { id: string }).id).toBe(merged.id);
      // only the new record is listed
      const listed = (await sim.control.listRecords(type)).map((r) => r.id);
      expect(listed).toContain(merged.id);
      expect(listed).not.toContain(p.id);
      expect(listed).not.toContain(s2.id);
      // the single update endpoint accepts an old id and writes to the new record
      const upd = await hs.apiRequest({ method: "PATCH", path: `/crm/v3/objects/${type}/${s2.id}`, body: { properties: { city: "via old id" } } });
      expect(((await upd.json()) as { id: string }).id).toBe(merged.id);
      expect((await sim.control.getRecord(type, merged.id))!.properties.city).toBe("via old id");
    }
  });

  it("with mergedIdLookup 404 an old id is not found", async () => {
    const p = await sim.control.createRecord("contacts", { email: "p404@example.com" });
    const s2 = await sim.control.createRecord("contacts", { email: "s404@example.com" });
    await post("/crm/v3/objects/contacts/merge", { primaryObjectId: p.id, objectIdToMerge: s2.id });
    expect((await apiError(hs.crm.contacts.basicApi.getById(p.id))).code).toBe(404);
    const read = await post("/crm/v3/objects/contacts/batch/read", { inputs: [{ id: p.id }] });
    expect(read.status).toBe(207);
    expect(read.body.results).toEqual([]);
  });

  it("batch update does not accept an old id: left out of the results by default, or reported, or the whole batch refused", async () => {
    const p = await sim.control.createRecord("contacts", { email: "bp@example.com" });
    const s2 = await sim.control.createRecord("contacts", { email: "bs@example.com" });
    const other = await sim.control.createRecord("contacts", { email: "bo@example.com" });
    const merged = (await post("/crm/v3/objects/contacts/merge", { primaryObjectId: p.id, objectIdToMerge: s2.id })).body;
    const inputs = [{ id: s2.id, properties: { firstname: "To the old id" } }, { id: other.id, properties: { firstname: "Fine" } }];

    const omitted = await post("/crm/v3/objects/contacts/batch/update", { inputs });
    expect(omitted.status).toBe(200);
    expect(omitted.body.results!.map((r) => r.id)).toEqual([other.id]);
    expect(omitted.body.errors).toBeUndefined();

    await sim.control.configure({ mergedIdBatchUpdate: "notFound" });
    const reported = await post("/crm/v3/objects/contacts/batch/update", { inputs });
    expect(reported.status).toBe(207);
    expect(reported.body.errors).toEqual([expect.objectContaining({ category: "OBJECT_NOT_FOUND", context: { ids: [s2.id] } })]);

    await sim.control.configure({ mergedIdBatchUpdate: "refuse" });
    const refused = await post("/crm/v3/objects/contacts/batch/update", { inputs: [{ id: other.id, properties: { firstname: "Refused" } }, ...inputs] });
    expect(refused.status).toBe(400);
    expect((await sim.control.getRecord("contacts", other.id))!.properties.firstname).toBe("Fine");
    // nothing ever reached the merged record through its old id
    expect((await sim.control.getRecord("contacts", merged.id))!.properties.firstname).toBeUndefined();
  });

  it("deals and tickets keep the primary's id, and so do contacts with mergeCreatesNewRecord off", async () => {
    await sim.control.configure({ mergedIdLookup: "winner" });
    const pairs: Array<[string, Record<string, string>, Record<string, string>]> = [
      ["deals", { dealname: "Winner" }, { dealname: "Loser", description: "Lo" }],
      ["tickets", { subject: "Winner" }, { subject: "Loser", content: "Lo" }],
      ["contacts", { email: "winner@example.com" }, { email: "loser@example.com", firstname: "Lo" }],
    ];
    for (const [type, wp, lp] of pairs) {
      if (type === "contacts") await sim.control.configure({ mergeCreatesNewRecord: false });
      const w = await sim.control.createRecord(type, wp);
      const l = await sim.control.createRecord(type, lp);
      const { body: merged } = await post(`/crm/v3/objects/${type}/merge`, { primaryObjectId: w.id, objectIdToMerge: l.id });
      expect(merged.id).toBe(w.id);
      expect(merged.properties.hs_merged_object_ids).toBe(l.id);
      expect(Object.values(merged.properties)).toContain("Lo");
      expect((await sim.control.listRecords(type)).map((r) => r.id)).toEqual([w.id]);
      const get = await hs.apiRequest({ method: "GET", path: `/crm/v3/objects/${type}/${l.id}` });
      expect(((await get.json()) as { id: string }).id).toBe(w.id);
    }
    const found = await hs.crm.contacts.searchApi.doSearch({ filterGroups: [], sorts: [], properties: [], limit: 10, after: "0" });
    expect(found.total).toBe(1);
  });
});

describe("GDPR delete", () => {
  it("removes a contact for good: not listed, not archived, not restorable", async () => {
    const c = await hs.crm.contacts.basicApi.create({ properties: { email: "forget-me@example.com" }, associations: [] });
    await hs.crm.contacts.basicApi.purge({ objectId: "forget-me@example.com", idProperty: "email" });
    expect((await hs.crm.contacts.basicApi.getPage(100)).results).toEqual([]);
    expect((await hs.crm.contacts.basicApi.getPage(100, undefined, undefined, undefined, undefined, true)).results).toEqual([]);
    expect(await sim.control.getRecord("contacts", c.id)).toBeNull();
    // unknown emails are accepted (HubSpot blocklists them)
    await hs.crm.contacts.basicApi.purge({ objectId: "never-seen@example.com", idProperty: "email" });
  });
});
