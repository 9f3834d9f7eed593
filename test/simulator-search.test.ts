import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@hubspot/api-client";
import { testSimulator, type TestSimulator } from "./support/simulator.ts";

// POST /crm/v3/objects/{type}/search: filters, case rules, sorts, paging, the 10k cap, index lag.

let sim: TestSimulator;
let hs: Client;
const BASE = Date.UTC(2025, 0, 1);

beforeAll(async () => {
  sim = await testSimulator();
  hs = sim.client();
  const people: Array<[string, string, string, string]> = [
    ["alice@hubspot.com", "Alice", "Smith", "lead"],
    ["bob@example.com", "Bob", "Smith", "customer"],
    ["carol@hubspot.com", "Carol", "Jones", "customer"],
    ["dave@example.com", "Dave", "Brown", "lead"],
    ["erin@example.com", "Erin", "", "subscriber"],
  ];
  for (const [i, [email, firstname, lastname, lifecyclestage]] of people.entries()) {
    await sim.control.createRecord("contacts", { email, firstname, lastname, lifecyclestage, annualrevenue: String((i + 1) * 100) }, { at: BASE + i * 60_000 });
  }
});
afterAll(async () => sim.close());

type Body = Record<string, unknown>;
async function search(body: Body, type = "contacts"): Promise<{ status: number; body: Record<string, any>; headers: Headers }> {
  const res = await hs.apiRequest({ method: "POST", path: `/crm/v3/objects/${type}/search`, body });
  return { status: res.status, body: (await res.json()) as Record<string, any>, headers: res.headers };
}
const emails = (b: Record<string, any>): string[] => b.results.map((r: any) => r.properties.email);
const f = (propertyName: string, operator: string, value?: unknown, extra: Body = {}) => ({ propertyName, operator, ...(value === undefined ? {} : { value }), ...extra });
const one = (...filters: unknown[]) => ({ filterGroups: [{ filters }], properties: ["email"], limit: 100 });

describe("filters", () => {
  it("ANDs filters in a group and ORs groups, through the SDK", async () => {
    const r = await hs.crm.contacts.searchApi.doSearch({
      filterGroups: [
        { filters: [{ propertyName: "firstname", operator: "EQ" as any, value: "Alice" }, { propertyName: "lastname", operator: "EQ" as any, value: "Smith" }] },
        { filters: [{ propertyName: "lastname", operator: "EQ" as any, value: "Jones" }] },
      ],
      sorts: [],
      properties: ["email"],
      limit: 10,
      after: "0",
    });
    expect(r.total).toBe(2);
    expect(r.results.map((x) => x.properties.email)).toEqual(["alice@hubspot.com", "carol@hubspot.com"]);
  });

  it("supports every operator", async () => {
    const cases: Array<[unknown, string[]]> = [
      [f("lastname", "NEQ", "Smith"), ["carol@hubspot.com", "dave@example.com", "erin@example.com"]],
      [f("annualrevenue", "LT", "200"), ["alice@hubspot.com"]],
      [f("annualrevenue", "LTE", "200"), ["alice@hubspot.com", "bob@example.com"]],
      [f("annualrevenue", "GT", "400"), ["erin@example.com"]],
      [f("annualrevenue", "GTE", "400"), ["dave@example.com", "erin@example.com"]],
      [f("annualrevenue", "BETWEEN", "200", { highValue: "300" }), ["bob@example.com", "carol@hubspot.com"]],
      [f("lifecyclestage", "IN", undefined, { values: ["lead", "subscriber"] }), ["alice@hubspot.com", "dave@example.com", "erin@example.com"]],
      [f("lifecyclestage", "NOT_IN", undefined, { values: ["lead", "subscriber"] }), ["bob@example.com", "carol@hubspot.com"]],
      [f("lastname", "HAS_PROPERTY"), ["alice@hubspot.com", "bob@example.com", "carol@hubspot.com", "dave@example.com"]],
      [f("lastname", "NOT_HAS_PROPERTY"), ["erin@example.com"]],
      [f("email", "CONTAINS_TOKEN", "*@hubspot.com"), ["alice@hubspot.com", "carol@hubspot.com"]],
      [f("email", "NOT_CONTAINS_TOKEN", "*@hubspot.com"), ["bob@example.com", "dave@example.com", "erin@example.com"]],
      [f("createdate", "GTE", new Date(BASE + 3 * 60_000).toISOString()), ["dave@example.com", "erin@example.com"]],
      [f("createdate", "LT", String(BASE + 60_000)), ["alice@hubspot.com"]],
    ];
    for (const [filter, expected] of cases) {
      const r = await search(one(filter));
      expect(r.status, JSON.stringify(filter)).toBe(200);
      expect(emails(r.body), JSON.stringify(filter)).toEqual(expected);
    }
  });

  it("follows HubSpot's case rules", async () => {
    // strings compare case-insensitively
    expect(emails((await search(one(f("firstname", "EQ", "ALICE")))).body)).toEqual(["alice@hubspot.com"]);
    // enumerations are case-sensitive
    expect((await search(one(f("lifecyclestage", "EQ", "LEAD")))).body.total).toBe(0);
    // IN on strings needs lowercase values
    expect((await search(one(f("firstname", "IN", undefined, { values: ["Alice"] })))).body.total).toBe(0);
    expect((await search(one(f("firstname", "IN", undefined, { values: ["alice"] })))).body.total).toBe(1);
  });
});

describe("association filters and history", () => {
  it("filters on the associations.<type> pseudo-property", async () => {
    const co = await sim.control.createRecord("companies", { name: "Assoc Co" }, { at: BASE - 10_000 });
    const all = await sim.control.listRecords("contacts");
    const alice = all.find((r) => r.properties.email === "alice@hubspot.com")!;
    await sim.control.associate("contacts", alice.id, "companies", co.id);
    const r = await search(one(f("associations.company", "EQ", co.id)));
    expect(emails(r.body)).toEqual(["alice@hubspot.com"]);
  });

  it("returns propertiesWithHistory on reads", async () => {
    const all = await sim.control.listRecords("contacts");
    const got = await hs.crm.contacts.basicApi.getById(all[0]!.id, ["email"], ["firstname"]);
    expect(got.propertiesWithHistory!.firstname![0]).toMatchObject({ value: "Alice", sourceType: "API" });
  });
});

describe("sorting and paging", () => {
  it("defaults to creation order and accepts object, string and '-prop' sorts", async () => {
    expect(emails((await search({ properties: ["email"] })).body)[0]).toBe("alice@hubspot.com");
    const obj = await search({ sorts: [{ propertyName: "annualrevenue", direction: "DESCENDING" }], properties: ["email"] });
    expect(emails(obj.body)[0]).toBe("erin@example.com");
    const str = await search({ sorts: ["-createdate"], properties: ["email"] });
    expect(emails(str.body)[0]).toBe("erin@example.com");
    const asc = await search({ sorts: ["firstname"], properties: ["email"] });
    expect(emails(asc.body)).toEqual(["alice@hubspot.com", "bob@example.com", "carol@hubspot.com", "dave@example.com", "erin@example.com"]);
    const two = await search({ sorts: ["firstname", "lastname"] });
    expect(two.status).toBe(400);
  });

  it("pages with an integer offset and reports total; limit at most 200", async () => {
    const p1 = await search({ limit: 2, properties: ["email"] });
    expect(p1.body.total).toBe(5);
    expect(p1.body.paging.next.after).toBe("2");
    const p3 = await search({ limit: 2, after: "4", properties: ["email"] });
    expect(emails(p3.body)).toEqual(["erin@example.com"]);
    expect(p3.body.paging).toBeUndefined();
    expect((await search({ limit: 201 })).status).toBe(400);
  });

  it("answers the default, requested and system properties, and never archived records", async () => {
    const r = await search({ limit: 1, properties: ["firstname"] });
    expect(Object.keys(r.body.results[0].properties).sort()).toEqual(["createdate", "firstname", "hs_object_id", "lastmodifieddate"]);
    const d = await search({ limit: 1 });
    expect(Object.keys(d.body.results[0].properties).sort()).toEqual(["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"]);
    const c = await sim.control.createRecord("contacts", { email: "gone@example.com" });
    await sim.control.archiveRecord("contacts", c.id);
    expect(emails((await search(one(f("email", "EQ", "gone@example.com")))).body)).toEqual([]);
  });

  it("refuses too many filters and bodies over 3,000 characters", async () => {
    const six = Array.from({ length: 6 }, () => f("firstname", "HAS_PROPERTY"));
    expect((await search({ filterGroups: Array.from({ length: 3 }, () => ({ filters: six })) })).status).toBe(200);
    expect((await search({ filterGroups: Array.from({ length: 6 }, () => ({ filters: [six[0]] })) })).status).toBe(400);
    expect((await search({ filterGroups: [{ filters: [...six, six[0]] }] })).status).toBe(400);
    const tooMany = await search({ filterGroups: Array.from({ length: 4 }, () => ({ filters: six.slice(0, 5) })) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.category).toBe("VALIDATION_ERROR");
    const long = await search({ query: "x".repeat(3_000) });
    expect(long.status).toBe(400);
  });
});

describe("last-modified, the 10,000 cap and index lag", () => {
  it("uses lastmodifieddate for contacts and hs_lastmodifieddate for other types", async () => {
    const co = await sim.control.createRecord("companies", { name: "Lm" }, { at: BASE });
    await sim.control.updateRecord("companies", co.id, { name: "Lm2" }, { at: BASE + 5_000 });
    const r = await search({ filterGroups: [{ filters: [f("hs_lastmodifieddate", "GTE", String(BASE + 5_000))] }], properties: ["name"] }, "companies");
    expect(r.body.results.map((x: any) => x.properties.name)).toEqual(["Lm2"]);
    expect(r.body.results[0].updatedAt).toBe(new Date(BASE + 5_000).toISOString());
  });

  it("answers 400 beyond 10,000 results while total counts everything", async () => {
    const type = sim.store.resolveType("tickets")!;
    for (let i = 0; i < 12_000; i++) sim.store.createRecord(type, { subject: `T${i}` }, { at: BASE + Math.floor(i / 3) });
    // three tickets share each millisecond: keyset by hs_object_id within one millisecond
    const tie = await search({ filterGroups: [{ filters: [f("hs_lastmodifieddate", "EQ", String(BASE + 10))] }], sorts: ["hs_object_id"], properties: ["subject"] }, "tickets");
    expect(tie.body.results.map((x: any) => x.properties.subject)).toEqual(["T30", "T31", "T32"]);
    const body = { filterGroups: [{ filters: [f("hs_lastmodifieddate", "GTE", String(BASE))] }], sorts: [{ propertyName: "hs_lastmodifieddate", direction: "ASCENDING" }], limit: 200 };
    const last = await search({ ...body, after: "9800" }, "tickets");
    expect(last.status).toBe(200);
    expect(last.body.total).toBe(12_000);
    expect(last.body.results).toHaveLength(200);
    expect(last.body.paging).toBeUndefined();
    const beyond = await search({ ...body, after: "10000" }, "tickets");
    expect(beyond.status).toBe(400);
    expect(beyond.body.category).toBe("VALIDATION_ERROR");
  });

  it("shows fresh changes late when an index lag is configured", async () => {
    // The lag is checked when search runs: a long lag holds changes back, and setting it to 0 is
    // the index catching up, so no sleep has to outlast a slow machine.
    const hold = () => sim.control.configure({ indexLagMs: 600_000 });
    const release = () => sim.control.configure({ indexLagMs: 0 });
    await hold();
    try {
      const c = await sim.control.createRecord("contacts", { email: "lag@example.com", firstname: "Before" });
      const q = one(f("email", "EQ", "lag@example.com"));
      expect((await search(q)).body.total).toBe(0);
      await release();
      expect((await search({ ...q, properties: ["firstname"] })).body.results[0].properties.firstname).toBe("Before");
      await hold();
      await sim.control.updateRecord("contacts", c.id, { firstname: "After" });
      expect((await search({ ...q, properties: ["firstname"] })).body.results[0].properties.firstname).toBe("Before");
      // reads by id are not lagged
      expect((await hs.crm.contacts.basicApi.getById(c.id, ["firstname"])).properties.firstname).toBe("After");
      await release();
      expect((await search({ ...q, properties: ["firstname"] })).body.results[0].properties.firstname).toBe("After");
    } finally {
      await release();
    }
  });

  it("sends no rate-limit headers on search responses", async () => {
    const limited = await testSimulator({ tier: "pro" });
    try {
      const res = await limited.client().apiRequest({ method: "POST", path: "/crm/v3/objects/contacts/search", body: {} });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-hubspot-ratelimit-max")).toBeNull();
      expect(res.headers.get("x-hubspot-correlation-id")).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await limited.close();
    }
  });
});
