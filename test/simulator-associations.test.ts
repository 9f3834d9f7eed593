import { Client } from "@hubspot/api-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";

/** Associations v4 through @hubspot/api-client against the simulator over HTTP. */

let sim: RunningSimulator;
let hubspot: Client;

/** The SDK's AssociationSpec (its category enum type is not exported from the package root). */
type Spec = Parameters<Client["crm"]["associations"]["v4"]["basicApi"]["create"]>[4][number];
const spec = (category: "HUBSPOT_DEFINED" | "USER_DEFINED", id: number) => ({ associationCategory: category, associationTypeId: id }) as Spec;
const hs = (id: number): Spec => spec("HUBSPOT_DEFINED", id);
const user = (id: number): Spec => spec("USER_DEFINED", id);

async function createMany(type: "contacts" | "companies", n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 100) {
    const inputs = Array.from({ length: Math.min(100, n - i) }, (_, k) => {
      const n = `${i + k}-${Math.random().toString(36).slice(2)}`;
      const properties: Record<string, string> = type === "contacts" ? { email: `a${n}@assoc.example`, firstname: "A" } : { name: `Co ${n}`, domain: `co${n}.example` };
      return { properties, associations: [] };
    });
    const res = await hubspot.crm.objects.batchApi.create(type, { inputs });
    ids.push(...res.results.map((r) => r.id).sort((a, b) => Number(a) - Number(b)));
  }
  return ids;
}

/** The raw JSON of a request, for what the SDK's types hide (numbers vs strings, nulls). */
async function raw(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${sim.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function thrown(p: Promise<unknown>): Promise<{ code: number; body: any }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code: number; body: unknown };
    return { code: e.code, body: typeof e.body === "string" ? JSON.parse(e.body) : e.body };
  }
  throw new Error("expected the call to fail");
}

beforeAll(async () => {
  sim = await startSimulator({ rateLimits: false });
  hubspot = new Client({ accessToken: sim.token, basePath: sim.url, numberOfApiCallRetries: 0 });
});

afterAll(async () => {
  await sim?.close();
});

describe("association labels (schema.definitionsApi)", () => {
  it("lists HubSpot's default type ids in both directions", async () => {
    const forward = await hubspot.crm.associations.v4.schema.definitionsApi.getAll("contact", "company");
    expect(forward.results).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ category: "HUBSPOT_DEFINED", typeId: 1, label: "Primary" }),
        expect.objectContaining({ category: "HUBSPOT_DEFINED", typeId: 279 }),
      ]),
    );
    const back = await hubspot.crm.associations.v4.schema.definitionsApi.getAll("companies", "contacts");
    expect(back.results.map((r) => r.typeId).sort((a, b) => a - b)).toEqual(expect.arrayContaining([2, 280]));
    const unlabeled = (await raw("GET", "/crm/v4/associations/contact/company/labels")).json.results.find((r: any) => r.typeId === 279);
    expect(unlabeled.label).toBeNull();
    const parentChild = await hubspot.crm.associations.v4.schema.definitionsApi.getAll("company", "company");
    expect(parentChild.results).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ typeId: 13, label: "Child Company" }),
        expect.objectContaining({ typeId: 14, label: "Parent Company" }),
      ]),
    );
    // Type ids work as object type names too.
    const byId = await hubspot.crm.associations.v4.schema.definitionsApi.getAll("0-3", "0-2");
    expect(byId.results.map((r) => r.typeId)).toEqual(expect.arrayContaining([5, 341]));
  });

  it("creates, renames and deletes USER_DEFINED labels with their inverse", async () => {
    const api = hubspot.crm.associations.v4.schema.definitionsApi;
    const created = await api.create("contacts", "companies", { label: "Decision maker", name: "decision_maker", inverseLabel: "Decided by" });
    expect(created.results).toHaveLength(2);
    const forward = created.results.find((r) => r.label === "Decision maker")!;
    expect(forward.category).toBe("USER_DEFINED");
    const back = await api.getAll("companies", "contacts");
    expect(back.results.find((r) => r.label === "Decided by")?.category).toBe("USER_DEFINED");
    await api.update("contacts", "companies", { associationTypeId: forward.typeId, label: "Economic buyer" });
    expect((await api.getAll("contacts", "companies")).results.find((r) => r.typeId === forward.typeId)?.label).toBe("Economic buyer");
    const duplicate = await thrown(api.create("contacts", "companies", { label: "Economic buyer", name: "economic_buyer" }));
    expect(duplicate.code).toBe(400);
    await api.remove("contacts", "companies", forward.typeId);
    expect((await api.getAll("contacts", "companies")).results.some((r) => r.typeId === forward.typeId)).toBe(false);
    const hubspotDefined = await thrown(api.remove("contacts", "companies", 1));
    expect(hubspotDefined.code).toBe(400);
  });
});

describe("batch create / read (batchApi)", () => {
  it("creates with labels, is visible from both sides with inverse ids, and answers 207 for ids without associations", async () => {
    const [contact, lonely] = await createMany("contacts", 2);
    const [company] = await createMany("companies", 1);
    const created = await hubspot.crm.associations.v4.batchApi.create("contacts", "companies", {
      inputs: [{ _from: { id: contact! }, to: { id: company! }, types: [hs(1)] }],
    });
    expect(created.results[0]).toMatchObject({ fromObjectTypeId: "0-1", toObjectTypeId: "0-2", labels: ["Primary"] });
    const createdRaw = await raw("POST", "/crm/v4/associations/contact/company/batch/create", {
      inputs: [{ from: { id: contact }, to: { id: company }, types: [hs(1)] }],
    });
    expect(createdRaw.status).toBe(201);

    const fromCompany = await raw("POST", "/crm/v4/associations/companies/contacts/batch/read", { inputs: [{ id: company }] });
    expect(fromCompany.status).toBe(200);
    const target = fromCompany.json.results[0].to[0];
    expect(target.toObjectId).toBe(Number(contact));
    expect(target.associationTypes).toEqual([
      { category: "HUBSPOT_DEFINED", typeId: 2, label: "Primary" },
      { category: "HUBSPOT_DEFINED", typeId: 280, label: null },
    ]);

    const read = await hubspot.crm.associations.v4.batchApi.getPage("contact", "company", { inputs: [{ id: contact! }, { id: lonely! }] });
    expect(read.results).toHaveLength(1);
    expect(read.results[0]!._from.id).toBe(contact);
    const errors = (read as { errors?: Array<{ category: string; subCategory?: unknown; message: string; context: Record<string, string[]> }> }).errors!;
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      category: "OBJECT_NOT_FOUND",
      subCategory: "crm.associations.NO_ASSOCIATIONS_FOUND",
      message: `No company is associated with contact ${lonely}.`,
      context: { fromObjectId: [lonely] },
    });
    const status = await raw("POST", "/crm/v4/associations/contact/company/batch/read", { inputs: [{ id: contact }, { id: lonely }] });
    expect(status.status).toBe(207);
    expect(status.json.numErrors).toBe(1);
  });

  it("replaces the label set between a pair, keeps the unlabeled type, and moves a primary", async () => {
    const [contact] = await createMany("contacts", 1);
    const [a, b] = await createMany("companies", 2);
    const billing = (await hubspot.crm.associations.v4.schema.definitionsApi.create("contact", "company", { label: "Billing contact", name: "billing_contact" })).results.find(
      (r) => r.label === "Billing contact",
    )!;
    await hubspot.crm.associations.v4.batchApi.create("contact", "company", {
      inputs: [{ _from: { id: contact! }, to: { id: a! }, types: [hs(1), user(billing.typeId)] }],
    });
    const typesTo = async (company: string) => {
      const page = await hubspot.crm.associations.v4.basicApi.getPage("contact", contact!, "company");
      return page.results.find((r) => String(r.toObjectId) === company)?.associationTypes.map((t) => t.typeId).sort((x, y) => x - y) ?? [];
    };
    expect(await typesTo(a!)).toEqual([1, 279, billing.typeId].sort((x, y) => x - y));
    // PUT replaces: only the billing label (plus the implied unlabeled type) remains.
    await hubspot.crm.associations.v4.basicApi.create("contact", contact!, "company", a!, [user(billing.typeId)]);
    expect(await typesTo(a!)).toEqual([279, billing.typeId]);
    // A contact has one primary company: making b primary takes it off a.
    await hubspot.crm.associations.v4.basicApi.create("contact", contact!, "company", a!, [hs(1)]);
    await hubspot.crm.associations.v4.basicApi.create("contact", contact!, "company", b!, [hs(1)]);
    expect(await typesTo(a!)).toEqual([279]);
    expect(await typesTo(b!)).toEqual([1, 279]);
    // Removing a label keeps the association; removing the unlabeled type removes it all.
    await hubspot.crm.associations.v4.batchApi.archiveLabels("contact", "company", { inputs: [{ _from: { id: contact! }, to: { id: b! }, types: [hs(1)] }] });
    expect(await typesTo(b!)).toEqual([279]);
    await hubspot.crm.associations.v4.batchApi.archiveLabels("contact", "company", { inputs: [{ _from: { id: contact! }, to: { id: b! }, types: [hs(279)] }] });
    expect(await typesTo(b!)).toEqual([]);
    await hubspot.crm.associations.v4.batchApi.archive("contact", "company", { inputs: [{ _from: { id: contact! }, to: [{ id: a! }] }] });
    expect(await typesTo(a!)).toEqual([]);
  });

  it("rejects unknown type ids per input (207) and unknown object types (400)", async () => {
    const [contact] = await createMany("contacts", 1);
    const [company] = await createMany("companies", 1);
    const res = await raw("POST", "/crm/v4/associations/contact/company/batch/create", {
      inputs: [
        { from: { id: contact }, to: { id: company }, types: [hs(1)] },
        { from: { id: contact }, to: { id: company }, types: [hs(4)] },
        { from: { id: "999999999" }, to: { id: company }, types: [hs(1)] },
      ],
    });
    expect(res.status).toBe(207);
    expect(res.json.results).toHaveLength(1);
    expect(res.json.errors.map((e: any) => e.category).sort()).toEqual(["OBJECT_NOT_FOUND", "VALIDATION_ERROR"]);
    const badType = await thrown(hubspot.crm.associations.v4.batchApi.getPage("widgets", "company", { inputs: [{ id: contact! }] }));
    expect(badType.code).toBe(400);
    expect(badType.body.category).toBe("VALIDATION_ERROR");
  });

  it("enforces HubSpot's batch limits: 1,000 reads, 2,000 creates", async () => {
    const tooManyReads = await thrown(
      hubspot.crm.associations.v4.batchApi.getPage("contact", "company", { inputs: Array.from({ length: 1001 }, (_, i) => ({ id: String(i + 1) })) }),
    );
    expect(tooManyReads.code).toBe(400);
    expect(tooManyReads.body).toMatchObject({ category: "VALIDATION_ERROR" });
    expect(tooManyReads.body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    const ok = await raw("POST", "/crm/v4/associations/contact/company/batch/read", { inputs: Array.from({ length: 1000 }, (_, i) => ({ id: String(i + 1) })) });
    expect([200, 207]).toContain(ok.status);
    const tooManyCreates = await thrown(
      hubspot.crm.associations.v4.batchApi.create("contact", "company", {
        inputs: Array.from({ length: 2001 }, (_, i) => ({ _from: { id: String(i + 1) }, to: { id: "1" }, types: [hs(279)] })),
      }),
    );
    expect(tooManyCreates.code).toBe(400);
  });

  it("pages each from-id's targets 500 at a time, and the basic GET by `limit`", async () => {
    const [company] = await createMany("companies", 1);
    const contacts = await createMany("contacts", 520);
    const created = await raw("POST", "/crm/v4/associations/company/contact/batch/create", {
      inputs: contacts.map((id) => ({ from: { id: company }, to: { id }, types: [hs(280)] })),
    });
    expect(created.status).toBe(201);
    const first = await hubspot.crm.associations.v4.batchApi.getPage("companies", "contacts", { inputs: [{ id: company! }] });
    expect(first.results[0]!.to).toHaveLength(500);
    const after = first.results[0]!.paging?.next?.after;
    expect(after).toBeTruthy();
    const second = await hubspot.crm.associations.v4.batchApi.getPage("companies", "contacts", { inputs: [{ id: company!, after }] });
    expect(second.results[0]!.to).toHaveLength(20);
    expect(second.results[0]!.paging).toBeUndefined();
    const seen = [...first.results[0]!.to, ...second.results[0]!.to].map((t) => String(t.toObjectId));
    expect(new Set(seen)).toEqual(new Set(contacts));

    const basic: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await hubspot.crm.associations.v4.basicApi.getPage("company", company!, "contact", cursor, 200);
      basic.push(...page.results.map((r) => String(r.toObjectId)));
      cursor = page.paging?.next?.after;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(basic).toEqual(seen);
  });
});

describe("basicApi and record life cycle", () => {
  it("creates default associations, deletes all between a pair, and leaves last-modified alone", async () => {
    const [contact] = await createMany("contacts", 1);
    const [company] = await createMany("companies", 1);
    const before = await hubspot.crm.contacts.basicApi.getById(contact!);
    const made = await hubspot.crm.associations.v4.basicApi.createDefault("contact", contact!, "company", company!);
    expect(made.results[0]!.associationSpec).toEqual({ associationCategory: "HUBSPOT_DEFINED", associationTypeId: 279 });
    const batchDefault = await hubspot.crm.associations.v4.batchApi.createDefault("companies", "contacts", { inputs: [{ _from: { id: company! }, to: { id: contact! } }] });
    expect(batchDefault.results[0]!.associationSpec.associationTypeId).toBe(280);
    const after = await hubspot.crm.contacts.basicApi.getById(contact!);
    expect(after.updatedAt).toEqual(before.updatedAt);
    expect(after.properties.lastmodifieddate).toBe(before.properties.lastmodifieddate);
    await hubspot.crm.associations.v4.basicApi.archive("contact", contact!, "company", company!);
    expect((await hubspot.crm.associations.v4.basicApi.getPage("company", company!, "contact")).results).toEqual([]);
    const missing = await thrown(hubspot.crm.associations.v4.basicApi.create("contact", "999999999", "company", company!, [hs(279)]));
    expect(missing.code).toBe(404);
  });

  it("moves a merged contact's associations to the record the merge made", async () => {
    const [winner, loser] = await createMany("contacts", 2);
    const [x, y] = await createMany("companies", 2);
    await hubspot.crm.associations.v4.batchApi.create("contact", "company", {
      inputs: [
        { _from: { id: winner! }, to: { id: x! }, types: [hs(1)] },
        { _from: { id: loser! }, to: { id: y! }, types: [hs(1)] },
      ],
    });
    const merged = await hubspot.crm.contacts.basicApi.merge({ primaryObjectId: winner!, objectIdToMerge: loser! });
    expect([winner, loser]).not.toContain(merged.id);
    const page = await hubspot.crm.associations.v4.basicApi.getPage("contact", merged.id, "company");
    const byCompany = Object.fromEntries(page.results.map((r) => [String(r.toObjectId), r.associationTypes.map((t) => t.typeId).sort((a, b) => a - b)]));
    // Both records' associations move to the new record; the primary's primary label is kept, the other's company comes over unlabeled.
    expect(byCompany).toEqual({ [x!]: [1, 279], [y!]: [279] });
    for (const company of [x!, y!]) {
      const back = await hubspot.crm.associations.v4.basicApi.getPage("company", company, "contact");
      expect(back.results.map((r) => String(r.toObjectId))).toEqual([merged.id]);
    }
  });

  it("drops a GDPR-deleted contact's associations for good", async () => {
    const [contact] = await createMany("contacts", 1);
    const [company] = await createMany("companies", 1);
    await sim.control.associate("contacts", contact!, "companies", company!, [1]);
    await hubspot.crm.contacts.basicApi.purge({ objectId: contact! });
    expect((await hubspot.crm.associations.v4.basicApi.getPage("company", company!, "contact")).results).toEqual([]);
    expect(sim.store.typeState("contacts").records.has(contact!)).toBe(false);
  });

  it("hides an archived record's associations and brings them back on restore", async () => {
    const [contact] = await createMany("contacts", 1);
    const [x, y] = await createMany("companies", 2);
    await hubspot.crm.associations.v4.batchApi.create("contact", "company", {
      inputs: [x!, y!].map((id) => ({ _from: { id: contact! }, to: { id }, types: [hs(279)] })),
    });
    await hubspot.crm.companies.basicApi.archive(y!);
    const visible = await hubspot.crm.associations.v4.basicApi.getPage("contact", contact!, "company");
    expect(visible.results.map((r) => String(r.toObjectId))).toEqual([x]);
    const fromArchived = await raw("POST", "/crm/v4/associations/company/contact/batch/read", { inputs: [{ id: y }] });
    expect(fromArchived.status).toBe(207);
    await sim.control.restoreRecord("companies", y!);
    const back = await hubspot.crm.associations.v4.basicApi.getPage("contact", contact!, "company");
    expect(back.results.map((r) => String(r.toObjectId))).toEqual([x, y]);
  });
});

describe("associations on object create and portal settings", () => {
  it("creates associations given with a new record, and refuses unknown type ids before creating anything", async () => {
    const [company] = await createMany("companies", 1);
    const created = await hubspot.crm.contacts.basicApi.create({
      properties: { email: `with-assoc-${Date.now()}@assoc.example` },
      associations: [{ to: { id: company! }, types: [hs(1)] }],
    });
    const page = await hubspot.crm.associations.v4.basicApi.getPage("contact", created.id, "company");
    expect(page.results.map((r) => [String(r.toObjectId), r.associationTypes.map((t) => t.typeId).sort((a, b) => a - b)])).toEqual([[company, [1, 279]]]);
    const before = (await sim.control.listRecords("contacts")).length;
    const bad = await thrown(
      hubspot.crm.contacts.basicApi.create({ properties: { email: `bad-assoc-${Date.now()}@assoc.example` }, associations: [{ to: { id: company! }, types: [hs(999_999)] }] }),
    );
    expect(bad.code).toBe(400);
    expect((await sim.control.listRecords("contacts")).length).toBe(before);
  });

  it("follows the configured page size and, when switched on, bumps last-modified on association writes", async () => {
    const [company] = await createMany("companies", 1);
    const contacts = await createMany("contacts", 5);
    await raw("POST", "/crm/v4/associations/company/contact/batch/create", {
      inputs: contacts.map((id) => ({ from: { id: company }, to: { id }, types: [hs(280)] })),
    });
    try {
      await sim.control.configure({ associationsPageSize: 2 });
      const first = await hubspot.crm.associations.v4.batchApi.getPage("company", "contact", { inputs: [{ id: company! }] });
      expect(first.results[0]!.to).toHaveLength(2);
      expect(first.results[0]!.paging?.next?.after).toBeTruthy();

      await sim.control.configure({ associationsBumpLastModified: true });
      const before = (await sim.control.getRecord("contacts", contacts[0]!))!;
      await new Promise((r) => setTimeout(r, 5));
      await hubspot.crm.associations.v4.basicApi.archive("company", company!, "contact", contacts[0]!);
      const after = (await sim.control.getRecord("contacts", contacts[0]!))!;
      expect(new Date(after.updatedAt).getTime()).toBeGreaterThan(new Date(before.updatedAt).getTime());
    } finally {
      await sim.control.configure({ associationsPageSize: 500, associationsBumpLastModified: false });
    }
  });
});

describe("v3 `associations` query parameter", () => {
  it("embeds associated ids once per type, as v3 does", async () => {
    const [contact] = await createMany("contacts", 1);
    const [a, b] = await createMany("companies", 2);
    await hubspot.crm.associations.v4.batchApi.create("contact", "company", {
      inputs: [
        { _from: { id: contact! }, to: { id: a! }, types: [hs(1)] },
        { _from: { id: contact! }, to: { id: b! }, types: [hs(279)] },
      ],
    });
    const got = await raw("GET", `/crm/v3/objects/contacts/${contact}?associations=companies&associations=deals`);
    expect(got.json.associations.companies.results).toEqual([
      { id: a, type: "contact_to_company" },
      { id: a, type: "contact_to_company_unlabeled" },
      { id: b, type: "contact_to_company_unlabeled" },
    ]);
    expect(got.json.associations.deals).toBeUndefined();
  });

  it("names the primary the same way from the other side, and embeds at most the limit with a cursor to the rest", async () => {
    const contacts = await createMany("contacts", 3);
    const [company] = await createMany("companies", 1);
    await hubspot.crm.associations.v4.batchApi.create("company", "contact", {
      inputs: contacts.map((c, i) => ({ _from: { id: company! }, to: { id: c }, types: [hs(i === 0 ? 2 : 280)] })),
    });
    const all = await raw("GET", `/crm/v3/objects/companies/${company}?associations=contacts`);
    expect(all.json.associations.contacts.results).toEqual([
      { id: contacts[0], type: "company_to_contact" },
      { id: contacts[0], type: "company_to_contact_unlabeled" },
      { id: contacts[1], type: "company_to_contact_unlabeled" },
      { id: contacts[2], type: "company_to_contact_unlabeled" },
    ]);
    expect(all.json.associations.contacts.paging).toBeUndefined();
    await sim.control.configure({ embeddedAssociationsLimit: 3 });
    try {
      const capped = await raw("GET", `/crm/v3/objects/companies/${company}?associations=contacts`);
      expect(capped.json.associations.contacts.results.map((r: { id: string }) => r.id)).toEqual([contacts[0], contacts[0], contacts[1]]);
      expect(capped.json.associations.contacts.paging.next.after).toBe(contacts[1]);
    } finally {
      await sim.control.configure({ embeddedAssociationsLimit: 100 });
    }
  });
});

describe("control API", () => {
  it("associates, relabels, lists and unassociates", async () => {
    const [contact] = await createMany("contacts", 1);
    const [company] = await createMany("companies", 1);
    await sim.control.associate("contacts", contact!, "companies", company!, [1]);
    const listed = await sim.control.listAssociations("contacts", "companies");
    const mine = listed.find((a) => a.fromId === contact && a.toId === company)!;
    expect(mine.types.map((t) => t.typeId).sort((a, b) => a - b)).toEqual([1, 279]);
    await sim.control.setAssociationLabels("contacts", contact!, "companies", company!, []);
    const relabeled = (await sim.control.listAssociations("companies", "contacts")).find((a) => a.fromId === company && a.toId === contact)!;
    expect(relabeled.types.map((t) => t.typeId)).toEqual([280]);
    await sim.control.unassociate("contacts", contact!, "companies", company!);
    expect((await sim.control.listAssociations("contacts", "companies")).some((a) => a.fromId === contact)).toBe(false);
  });
});
