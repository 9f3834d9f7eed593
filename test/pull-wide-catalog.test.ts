import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { backfill } from "../src/core/pull/backfill.ts";
import { pullIncremental } from "../src/core/pull/incremental.ts";
import { readCursor } from "../src/core/schema/cursors.ts";
import { connectWorker, enableSync } from "./support/worker.ts";
import { installedDatabase } from "./support/database.ts";
import type { TestDatabase } from "./support/database.ts";

/**
 * A portal with HubSpot's real catalog width (about 370 contact properties, hundreds on companies
 * and deals). The property list of a contact (about 14,000 characters of query) fits in one GET
 * URL under HubSpot's ~16,300-character limit, so the backfill reads 100 records per call instead
 * of ids plus a batch read; a portal that answers 414 earlier lowers the budget, and the lesson is kept.
 */

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;
/** Records of each type: five list pages, enough for the calls per page to show over the fixed ones. */
const N = 500;

beforeAll(async () => {
  db = await installedDatabase("pull_wide");
  sim = await startSimulator({ rateLimits: false, catalog: { realistic: true } });
  worker = connectWorker(db.url, sim);
  for (const type of ["contacts", "companies", "deals"]) {
    const def = sim.store.resolveType(type)!;
    for (let i = 0; i < N; i++) sim.store.createRecord(def, type === "contacts" ? { email: `w${i}@example.com` } : type === "companies" ? { name: `Wide ${i}` } : { dealname: `Wide ${i}`, pipeline: "default", dealstage: "appointmentscheduled" });
  }
  for (const type of ["contacts", "companies", "deals"]) await enableSync(db.pool, type);
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

const count = async (table: string) => (await db.pool.query<{ n: number }>(`select count(*)::int as n from hubspot.${table}`)).rows[0]!.n;

describe("backfill on a realistic property catalog", () => {
  it("reads every contact property through list pages: one call per 100 records, not two", async () => {
    const props = sim.store.propertyDefinitions(sim.store.resolveType("contacts")!).length;
    expect(props).toBeGreaterThan(300);
    // The old 2,000-character budget: ids from the list, records from batch read.
    const narrow = await backfill(worker, "contacts", { maxPropertyQueryChars: 2_000 });
    expect(narrow.details).toMatchObject({ mode: "ids+batch-read" });
    await db.pool.query(`delete from hubsync.cursors where object_type = 'contacts' and stream = 'backfill'`);
    const wide = await backfill(worker, "contacts");
    expect(wide.details).toMatchObject({ mode: "list" });
    expect(await count("contacts")).toBe(N);
    console.log(
      `backfill of ${N} contacts with ${props} properties: ${(narrow.requests / N).toFixed(3)} calls per record with a 2,000-character URL budget, ${(wide.requests / N).toFixed(3)} with the default budget`,
    );
    expect(wide.requests).toBeLessThan(narrow.requests * 0.6);
  });

  it("falls back to ids + batch read on a 414, remembers the lower budget for the portal, and loses nothing", async () => {
    await sim.control.configure({ maxUrlLength: 9_000 });
    try {
      await sim.control.resetCounters();
      const companies = await backfill(worker, "companies");
      expect(await count("companies")).toBe(N);
      expect(companies.details).toMatchObject({ mode: "ids+batch-read" });
      const learned = (await readCursor<{ chars: number }>(db.pool, "_portal", "url-budget"))!;
      expect(learned.chars).toBeLessThan(9_000);
      // The next object starts from what the portal taught: its shorter list still fits, no 414 this time.
      const deals = await backfill(worker, "deals");
      expect(deals.details).toMatchObject({ mode: "list" });
      expect(await count("deals")).toBe(N);
      const refused = (await sim.control.requests()).filter((r) => r.status === 414);
      expect(refused).toHaveLength(1);
    } finally {
      await sim.control.configure({ maxUrlLength: 16_300 });
    }
  });

  it("tries a search carrying every property once, and keeps what the portal answered", async () => {
    const contacts = sim.store.resolveType("contacts")!;
    const ids = sim.store.recordList(contacts, false).map((r) => r.id);
    const change = (label: string) => {
      for (const id of ids) sim.store.updateRecord(contacts, id, { firstname: label });
    };
    const refusals = async () => (await sim.control.requests()).filter((r) => r.status === 400 && r.path.includes("/search")).length;
    const perRecord = (run: { requests: number; records: number }) => (run.requests / run.records).toFixed(3);

    // The cap counts the property list (the simulator's default): one 400, then ids + batch read, remembered.
    await sim.control.resetCounters();
    change("First");
    const first = await pullIncremental(worker, "contacts", { lagWindowMs: 1_000 });
    expect(first.records).toBe(N);
    expect(await refusals()).toBe(1);
    expect((await readCursor<{ fullWidth: boolean }>(db.pool, "_portal", "search-width"))!.fullWidth).toBe(false);
    change("Second");
    const second = await pullIncremental(worker, "contacts", { lagWindowMs: 1_000 });
    expect(second.records).toBe(N);
    expect(await refusals()).toBe(1);

    // A portal whose cap leaves the list out: search carries the records, no batch reads.
    await sim.control.configure({ searchCapCountsProperties: false });
    await db.pool.query(`delete from hubsync.cursors where object_type = '_portal' and stream = 'search-width'`);
    change("Third");
    const wide = await pullIncremental(worker, "contacts", { lagWindowMs: 1_000 });
    expect(wide.records).toBe(N);
    expect(wide.details).toMatchObject({ fetched: N });
    expect((await readCursor<{ fullWidth: boolean }>(db.pool, "_portal", "search-width"))!.fullWidth).toBe(true);
    const names = (await db.pool.query(`select firstname from hubspot.contacts group by 1`)).rows.map((r) => r.firstname);
    expect(names).toEqual(["Third"]);
    console.log(`incremental on ${N} changed contacts with a realistic catalog: ${perRecord(second)} calls per record (ids + batch read), ${perRecord(wide)} when search carries every property`);
    expect(wide.requests).toBeLessThan(second.requests);
  });
});
