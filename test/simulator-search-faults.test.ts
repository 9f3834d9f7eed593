import type { Client } from "@hubspot/api-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testSimulator, type TestSimulator } from "./support/simulator.ts";

/**
 * The search faults a pull must survive (faults.searchStaleRate, faults.searchShortPageRate),
 * seen from a client: hits at an old last-modified position carrying the record as it is now, and
 * short pages whose paging.next still leads to the rest of the results.
 */

let sim: TestSimulator;
let hs: Client;
const BASE = Date.UTC(2026, 0, 1);
const ids: string[] = [];

beforeAll(async () => {
  sim = await testSimulator();
  hs = sim.client();
  for (let i = 0; i < 120; i++) ids.push((await sim.control.createRecord("contacts", { email: `f${i}@example.com`, firstname: "Old" }, { at: BASE + i * 1_000 })).id);
});
afterAll(async () => sim.close());

async function search(body: Record<string, unknown>): Promise<Record<string, any>> {
  const res = await hs.apiRequest({ method: "POST", path: "/crm/v3/objects/contacts/search", body });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}
const window = (from: number, to: number, extra: Record<string, unknown> = {}) => ({
  filterGroups: [{ filters: [
    { propertyName: "lastmodifieddate", operator: "GTE", value: String(from) },
    { propertyName: "lastmodifieddate", operator: "LTE", value: String(to) },
  ] }],
  sorts: [{ propertyName: "lastmodifieddate", direction: "ASCENDING" }],
  properties: ["firstname", "lastmodifieddate"],
  limit: 200,
  ...extra,
});

describe("search faults", () => {
  it("a stale entry: the record found at its old position, past the query's bound, with its new values", async () => {
    try {
      await sim.control.configure({ faults: { searchStaleRate: 1 } });
      const id = ids[10]!;
      await sim.control.updateRecord("contacts", id, { firstname: "New" });
      const old = await search(window(BASE + 5_000, BASE + 15_000));
      const hit = old.results.find((r: any) => r.id === id);
      expect(hit.properties.firstname).toBe("New");
      expect(Date.parse(hit.properties.lastmodifieddate)).toBeGreaterThan(BASE + 15_000);
      // out of sort order: later than the hit after it
      const at = old.results.indexOf(hit);
      expect(Date.parse(old.results[at + 1].properties.lastmodifieddate)).toBeLessThan(Date.parse(hit.properties.lastmodifieddate));
      // and the record is found at its new position as well
      const now = await search(window(Date.now() - 60_000, Date.now() + 1_000));
      expect(now.results.map((r: any) => r.id)).toContain(id);
    } finally {
      await sim.control.configure({ faults: { searchStaleRate: 0 } });
    }
    // Off: a record updated now sits only at its new position.
    await sim.control.updateRecord("contacts", ids[20]!, { firstname: "New" });
    const old = await search(window(BASE + 15_000, BASE + 25_000));
    expect(old.results.map((r: any) => r.id)).not.toContain(ids[20]);
  });

  it("short pages carry paging.next, and following it gives every result exactly once", async () => {
    const everything = await search(window(BASE, BASE + 200_000, { properties: ["email"] }));
    const expected = everything.results.map((r: any) => r.id);
    expect(expected.length).toBeGreaterThan(100);
    try {
      await sim.control.configure({ faults: { searchShortPageRate: 1, seed: 4 } });
      const got: string[] = [];
      let after: string | undefined;
      let short = 0;
      for (let pages = 0; pages < 500; pages++) {
        const page = await search(window(BASE, BASE + 200_000, { properties: ["email"], limit: 25, ...(after ? { after } : {}) }));
        got.push(...page.results.map((r: any) => r.id));
        if (!page.paging) break;
        if (page.results.length < 25) short++;
        after = page.paging.next.after;
      }
      expect(short).toBeGreaterThan(0);
      expect(got).toEqual(expected);
    } finally {
      await sim.control.configure({ faults: { searchShortPageRate: 0 } });
    }
  });
});
