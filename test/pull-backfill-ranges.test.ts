import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEARCH_DISORDER, startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { backfill } from "../src/core/pull/backfill.ts";
import { discover } from "../src/core/schema/discover.ts";
import { readCursor } from "../src/core/schema/cursors.ts";
import type { SearchRequest } from "../src/core/hubspot/client.ts";
import type { SyncContext } from "../src/core/context.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker, countRequests, enableSync } from "./support/worker.ts";

/**
 * A large type's backfill reads through two channels at once: list pages on the 10-second budget
 * and search pages over hs_object_id ranges on search's own. The simulator runs at HubSpot's real
 * limits (pro) with search misbehaving as on a busy portal (stale hits repeating a record, short
 * and empty pages that still point further).
 */

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;
const N = 12_000;
/**
 * The resume and the batch-read cases need search ranges, not a type past the default split
 * threshold (10,000, which the first case crosses): they lower the threshold and the range size
 * instead, and read a third of the records (each range still spans several search pages).
 */
const SMALLER = { splitMinRecords: 2_000, rangeRecords: 1_000 };
const COMPANIES = 4_000;

function seed(type: string, n: number, make: (i: number) => Record<string, string>): void {
  const def = sim.store.resolveType(type)!;
  for (let i = 0; i < n; i++) sim.store.createRecord(def, make(i));
}

/** Every live record of the type is in the table, with HubSpot's values, and nothing else. */
async function expectCopy(type: string, property: string): Promise<void> {
  const def = sim.store.resolveType(type)!;
  const records = sim.store.recordList(def, false);
  const { rows } = await db.pool.query<{ id: string; v: string | null }>(`select id, properties ->> $1 as v from hubspot.${type}`, [property]);
  expect(rows.length).toBe(records.length);
  const byId = new Map(rows.map((r) => [r.id, r.v]));
  const wrong = records.filter((r) => byId.get(r.id) !== (r.properties[property] ?? null)).map((r) => r.id);
  expect(wrong).toEqual([]);
}

/** The worker's deps with every search body it sends kept in `bodies`. */
function recordingSearches(deps: SyncContext, bodies: SearchRequest[]): SyncContext {
  return { ...deps, hubspot: { ...deps.hubspot, search: (type: string, body: SearchRequest) => (bodies.push(body), deps.hubspot.search(type, body)) } };
}

const gtValue = (b: SearchRequest) => b.filterGroups[0]?.filters.find((f) => f.propertyName === "hs_object_id" && f.operator === "GT")?.value;

beforeAll(async () => {
  db = await installedDatabase("pull_backfill_ranges");
  sim = await startSimulator({ tier: "pro", faults: SEARCH_DISORDER });
  // HubSpot's real limits for this client (the simulator enforces them too)
  worker = connectWorker(db.url, sim, { limits: {} });
  seed("contacts", N, (i) => ({ email: `p${i}@example.com`, firstname: `First${i}` }));
  seed("companies", COMPANIES, (i) => ({ name: `Company ${i}`, domain: `c${i}.example.com` }));
  // updates leave stale entries in the search index (the same record hit twice, out of place)
  for (const type of ["contacts", "companies"]) {
    const def = sim.store.resolveType(type)!;
    const change: Record<string, string> = type === "contacts" ? { firstname: "Changed" } : { name: "Changed" };
    for (const r of sim.store.recordList(def, false).filter((_, i) => i % 7 === 0)) sim.store.updateRecord(def, r.id, change);
  }
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

describe("backfill of a large type through list pages and search ranges", () => {
  it("copies every record exactly once, using both the list and the search budget", { timeout: 180_000 }, async () => {
    await enableSync(db.pool, "contacts");
    await discover(worker, "contacts");
    await sim.control.resetCounters();
    const since = Date.now();
    const run = await backfill(worker, "contacts", { rangeRecords: 2_000 });
    await expectCopy("contacts", "firstname");
    // each record written once: the pages where the list met the ranges only repeat what is there
    expect(run.details).toMatchObject({ inserted: N, updated: 0, ranges: 7 });
    expect(run.details!.searchRecords as number).toBeGreaterThan(1_000);
    expect(run.details!.listRecords as number).toBeGreaterThan(1_000);
    const log = await sim.control.requests({ since });
    const lists = countRequests(log, "/crm/objects/2026-09/contacts", "GET");
    const searches = countRequests(log, "/crm/objects/2026-09/contacts/search", "POST");
    console.log(`split backfill of ${N} contacts: ${lists} list pages, ${searches} searches, ${run.details!.listRecords} records by list, ${run.details!.searchRecords} by search, ${run.ms} ms`);
    expect(lists).toBeGreaterThan(10);
    expect(searches).toBeGreaterThan(5);
    expect(log.filter((r) => r.status === 429)).toEqual([]);
    // the range cursors go with the finished backfill
    const { rows } = await db.pool.query(`select stream from hubsync.cursors where object_type = 'contacts' and stream like 'backfill-%'`);
    expect(rows).toEqual([]);
  });

  it("resumes a backfill killed in the middle of a search range from that range's last page", { timeout: 180_000 }, async () => {
    await enableSync(db.pool, "companies");
    await discover(worker, "companies");
    let killedRange = -1;
    await expect(
      backfill(worker, "companies", {
        ...SMALLER,
        // the list pauses after each page, so the search ranges are under way before it could
        // finish alone (on a busy machine it once read all 40 pages before any range read three)
        onPage: () => new Promise((r) => setTimeout(r, 50)),
        onSearchPage: (range, pages) => {
          if (pages === 3 && killedRange < 0) {
            killedRange = range;
            throw new Error("worker killed");
          }
        },
      }),
    ).rejects.toThrow("worker killed");
    const left = await readCursor<{ afterId: string; pages: number; done: boolean }>(db.pool, "companies", `backfill-range:${killedRange}`);
    expect(left).toMatchObject({ pages: 3, done: false });
    const plan = await readCursor<{ ranges: Array<{ lo: string }> }>(db.pool, "companies", "backfill-plan");
    const rangeStart = String(BigInt(plan!.ranges[killedRange]!.lo) - 1n);
    const partial = await db.pool.query(`select count(*)::int as n from hubspot.companies`);
    expect(partial.rows[0].n).toBeGreaterThan(0);
    expect(partial.rows[0].n).toBeLessThan(COMPANIES);

    const bodies: SearchRequest[] = [];
    const run = await backfill(recordingSearches(worker, bodies), "companies", SMALLER);
    expect(run.details!.resumedRanges as number).toBeGreaterThanOrEqual(1);
    // the killed range goes on after its last written id, not from its start
    expect(bodies.some((b) => gtValue(b) === left!.afterId)).toBe(true);
    expect(bodies.some((b) => gtValue(b) === rangeStart)).toBe(false);
    await expectCopy("companies", "name");
  });

  it("spends no search call on a type the list finishes in a few pages", { timeout: 60_000 }, async () => {
    seed("deals", 300, (i) => ({ dealname: `Deal ${i}` }));
    await enableSync(db.pool, "deals");
    await discover(worker, "deals");
    const since = Date.now();
    const run = await backfill(worker, "deals");
    expect(run.details).toMatchObject({ ranges: 0, searchPages: 0 });
    const log = await sim.control.requests({ since });
    expect(countRequests(log, "/search", "POST")).toBe(0);
    expect(countRequests(log, "/crm/objects/2026-09/deals", "GET")).toBe(Math.ceil(sim.store.recordList(sim.store.resolveType("deals")!, false).length / 100));
  });

  it("reads ids by search and records by batch read when a search body cannot carry the property list", { timeout: 180_000 }, async () => {
    const tickets = sim.store.resolveType("tickets")!;
    for (let i = 0; i < 150; i++) sim.store.createProperty(tickets, { name: `portal_defined_ticket_property_number_${i}`, type: "string" });
    seed("tickets", 3_000, (i) => ({ subject: `Ticket ${i}`, hs_pipeline: "0", hs_pipeline_stage: "1" }));
    await enableSync(db.pool, "tickets");
    await discover(worker, "tickets");
    const since = Date.now();
    const run = await backfill(worker, "tickets", SMALLER);
    expect(run.details).toMatchObject({ searchMode: "ids+batch-read", updated: 0 });
    expect(run.details!.searchRecords as number).toBeGreaterThan(0);
    await expectCopy("tickets", "subject");
    const log = await sim.control.requests({ since });
    expect(countRequests(log, "/crm/objects/2026-09/tickets/batch/read", "POST")).toBeGreaterThan(0);
    expect(log.filter((r) => r.status === 429)).toEqual([]);
  });
});
