import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { loadPairs, type AssociationPair } from "../src/core/associations/pairs.ts";
import { refreshChangedAssociations } from "../src/core/associations/refresh.ts";
import { sweepAssociations } from "../src/core/associations/sweep.ts";
import { backfill } from "../src/core/pull/backfill.ts";
import { pullIncremental } from "../src/core/pull/incremental.ts";
import { runDiscovery } from "../src/core/schema/discover.ts";
import { expectedRows, tableRows } from "./support/associations.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker, enableSync } from "./support/worker.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;
/** A company associated with more contacts than HubSpot embeds per record. */
let bigCompany: string;
const BIG = 130;

const TYPES = ["companies", "contacts", "deals", "tickets"];

const expected = (pair: AssociationPair) => expectedRows(sim, pair);
const actual = (pair: AssociationPair) => tableRows(db.pool, pair);

/** Association batch reads HubSpot served (the labels reads are not counted). */
async function associationReads(): Promise<number> {
  const c = await sim.control.counters();
  return Object.entries(c.byEndpoint)
    .filter(([k]) => (k.includes("/crm/v4/associations") || k.includes("/crm/associations")) && k.includes("batch/read"))
    .reduce((n, [, v]) => n + v, 0);
}

beforeAll(async () => {
  db = await installedDatabase("assocembed");
  sim = await startSimulator({ rateLimits: false, seed: { size: 600, seed: 5 } });
  worker = connectWorker(db.url, sim);
  const companies = await sim.control.listRecords("companies");
  const contacts = await sim.control.listRecords("contacts");
  bigCompany = companies[0]!.id;
  for (const c of contacts.slice(0, BIG)) await sim.control.associate("companies", bigCompany, "contacts", c.id);
  for (const t of TYPES) await enableSync(worker.pool, t);
  // every type discovered before the first backfill: each list knows all the pairs its type is in
  for (const t of TYPES) await runDiscovery(worker, t);
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

describe("associations read with the records (embedded in list pages)", () => {
  it("HubSpot embeds at most 100 associated ids per record and type, and says there are more", async () => {
    const res = await fetch(`${sim.url}/crm/objects/2026-09/companies/${bigCompany}?associations=contacts`, { headers: { authorization: `Bearer ${sim.token}` } });
    const body = (await res.json()) as { associations: { contacts: { results: unknown[]; paging?: { next?: { after: string } } } } };
    expect(body.associations.contacts.results.length).toBeLessThanOrEqual(100);
    expect(body.associations.contacts.results.length).toBeGreaterThan(90);
    expect(body.associations.contacts.paging?.next?.after).toBeTruthy();
  });

  it("a backfill fills the association tables from its list pages: the fill after it reads nothing, and every row is HubSpot's, labels and type ids included", async () => {
    await sim.control.resetCounters();
    for (const t of TYPES) await backfill(worker, t);
    // only records the embedded lists could not settle went to the associations API: the company
    // past the embed limit, and records with labels an embedded name does not identify
    const duringBackfill = await associationReads();
    expect(duringBackfill).toBeGreaterThan(0);
    expect(duringBackfill).toBeLessThanOrEqual(6);

    await sim.control.resetCounters();
    const outcomes = await sweepAssociations(worker, { kind: "backfill" });
    for (const o of outcomes) expect(o.error, o.table).toBeUndefined();
    expect(await associationReads()).toBe(0);

    const pairs = await loadPairs(worker.pool);
    expect(pairs.map((p) => p.table).sort()).toEqual([
      "associations_company_company",
      "associations_company_contact",
      "associations_company_deal",
      "associations_company_ticket",
      "associations_contact_contact",
      "associations_contact_deal",
      "associations_contact_ticket",
      "associations_deal_deal",
      "associations_deal_ticket",
      "associations_ticket_ticket",
    ]);
    let total = 0;
    for (const pair of pairs) {
      const want = await expected(pair);
      expect(await actual(pair), pair.table).toEqual(want);
      total += want.length;
    }
    expect(total).toBeGreaterThan(300);
    const companyContact = pairs.find((p) => p.table === "associations_company_contact")!;
    const rows = await actual(companyContact);
    expect(rows.filter((r) => r.a === bigCompany).length).toBeGreaterThanOrEqual(BIG);
    expect(rows.some((r) => r.labels.includes("Primary") && r.type_ids.length === 2)).toBe(true);
    expect(rows.some((r) => r.labels.includes("Billing contact"))).toBe(true);
    const { rows: filled } = await db.pool.query(`select count(*)::int as n from hubsync.association_pairs where backfilled_at is not null`);
    expect(filled[0].n).toBe(pairs.length);
  }, 60_000);

  it("the refresh after the first pull reads the records that pull wrote, not the whole backfill again", async () => {
    const companies = await sim.control.listRecords("companies");
    const created = await sim.control.createRecord("contacts", { email: `embedded-${Date.now()}@example.com`, firstname: "Embedded" });
    await sim.control.associate("contacts", created.id, "companies", companies[1]!.id, [1, 279]);
    for (const t of TYPES) await pullIncremental(worker, t);
    const refreshed = await refreshChangedAssociations(worker, "contacts");
    expect(refreshed).toBe(1);
    const pair = (await loadPairs(worker.pool)).find((p) => p.table === "associations_company_contact")!;
    expect((await actual(pair)).filter((r) => r.b === created.id)).toEqual([{ a: companies[1]!.id, b: created.id, labels: ["Primary"], type_ids: [2, 280] }]);
  }, 60_000);
});
