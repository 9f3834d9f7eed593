import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { formatStatus, StatusRow } from "../src/cli/commands/status.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker, countRequests } from "./support/worker.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;
const oldIds: string[] = [];
const newIds: string[] = [];

const HORIZON = "2024-01-01T00:00:00Z";
const OLD_AT = Date.parse("2023-06-01T00:00:00Z");
const NEW_AT = Date.parse("2025-03-01T00:00:00Z");
const OLD = 300;
const NEW = 450;

/**
 * HubSpot calls of one kind in the simulator's log since `since`: list pages of live records (GET;
 * the archived list, which the cycle's archived scan reads, apart), batch reads, searches.
 */
async function calls(since: number) {
  const log = await sim.control.requests({ since });
  const live = log.filter((r) => !r.path.includes("archived=true"));
  return {
    archivedLists: countRequests(log, "/crm/objects/2026-09/contacts?", "GET") - countRequests(live, "/crm/objects/2026-09/contacts?", "GET"),
    lists: countRequests(live, "/crm/objects/2026-09/contacts", "GET"),
    batchReads: countRequests(log, "/crm/objects/2026-09/contacts/batch/read", "POST"),
    searches: countRequests(log, "/crm/objects/2026-09/contacts/search", "POST"),
  };
}

async function tableIds(): Promise<string[]> {
  const { rows } = await db.pool.query(`select id from hubspot.contacts order by id::bigint`);
  return rows.map((r) => r.id);
}

beforeAll(async () => {
  db = await installedDatabase("backfill_horizon");
  sim = await startSimulator({ rateLimits: false });
  worker = connectWorker(db.url, sim);
  // old and new records interleaved by id: only last-modified tells them apart
  for (let i = 0; i < OLD + NEW; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: 50 }, (_, k) => {
        const n = i + k;
        const old = n % 5 < 2;
        return sim.control.createRecord("contacts", { email: `h${n}@example.com` }, { at: (old ? OLD_AT : NEW_AT) + n * 1000 }).then((r) => ({ old, id: r.id }));
      }),
    );
    for (const r of batch) (r.old ? oldIds : newIds).push(r.id);
  }
  expect(oldIds.length).toBe(OLD);
  expect(newIds.length).toBe(NEW);
});

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

describe("backfill horizon — one story, in order: later tests build on what earlier ones left", () => {
  it("enable_sync(..., since => …) backfills only the records modified since then, by search, reading nothing older", async () => {
    const { rows } = await db.pool.query(`select hubsync.enable_sync('contacts', since => $1) as msg`, [HORIZON]);
    expect(rows[0].msg).toContain("backfill of records modified since 2024-01-01");
    const since = Date.now();
    const results = await cycleAll(worker, ["contacts"]);
    expect(results.filter((r) => r.error)).toEqual([]);
    expect(results[0]!.phase).toBe("live");

    expect(await tableIds()).toEqual([...newIds].sort((a, b) => Number(a) - Number(b)));
    // no list page (it cannot filter by date) and no batch read; one search per 200 new records,
    // then the first incremental pass
    const c = await calls(since);
    expect(c).toMatchObject({ lists: 0, batchReads: 0 });
    expect(c.searches).toBeGreaterThanOrEqual(Math.ceil(NEW / 200));
    expect(c.searches).toBeLessThanOrEqual(Math.ceil(NEW / 200) + 2);
    const run = await db.pool.query(`select records, details from hubsync.runs where kind = 'backfill' and object_type = 'contacts'`);
    expect(run.rows).toHaveLength(1);
    expect(run.rows[0]).toMatchObject({ records: NEW, details: { mode: "horizon", since: new Date(HORIZON).toISOString() } });

    // hubsync.status shows the horizon, and so does `hubsync status`
    const status = await db.pool.query(
      `select object_type, enabled, write_back, phase, rows::text as rows, last_pull_at, extract(epoch from lag)::float8 as lag_seconds,
              pending::int, rejected::int, last_error, last_error_at, changes, backfill_since
         from hubsync.status where object_type = 'contacts'`,
    );
    expect(status.rows[0]).toMatchObject({ phase: "live", backfill_since: new Date(HORIZON) });
    expect(formatStatus([StatusRow.parse(status.rows[0])], new Date())).toMatch(/\ncontacts +yes +off +live \(since 2024-01-01\) /);
  });

  it("the incremental pull keeps everything newer: an old record changed now, a new one", async () => {
    const touched = oldIds[7]!;
    await sim.control.updateRecord("contacts", touched, { firstname: "Back in the game" });
    const created = (await sim.control.createRecord("contacts", { email: "later@example.com" })).id;
    newIds.push(touched, created);
    const results = await cycleAll(worker, ["contacts"]);
    expect(results.filter((r) => r.error)).toEqual([]);
    const { rows } = await db.pool.query(`select id, firstname from hubspot.contacts where id = any($1::text[]) order by id::bigint`, [[touched, created]]);
    expect(rows).toEqual([
      { id: touched, firstname: "Back in the game" },
      { id: created, firstname: null },
    ]);
    expect((await tableIds()).length).toBe(NEW + 2);
  });

  it("states the horizon only before the backfill; refuses a horizon where it means nothing", async () => {
    // restating the configuration without since keeps the horizon
    await db.pool.query(`select hubsync.enable_sync('contacts')`);
    const kept = await db.pool.query(`select backfill_since from hubsync.objects where object_type = 'contacts'`);
    expect(kept.rows[0].backfill_since).toEqual(new Date(HORIZON));
    await expect(db.pool.query(`select hubsync.enable_sync('contacts', since => '2020-01-01')`)).rejects.toMatchObject({
      message: expect.stringContaining("since only applies before the backfill starts"),
      hint: expect.stringContaining("hubsync.resync('contacts', since =>"),
    });
    await expect(db.pool.query(`select hubsync.enable_sync('owners', since => '2020-01-01')`)).rejects.toMatchObject({ message: expect.stringContaining("read whole") });
    await expect(db.pool.query(`select hubsync.enable_sync('deals', since => now() + interval '1 day')`)).rejects.toMatchObject({ message: expect.stringContaining("in the future") });
    await expect(db.pool.query(`select hubsync.resync('owners', since => null)`)).rejects.toMatchObject({ message: expect.stringContaining("never been enabled") });
    // positional calls of the three-argument form still resolve to one function
    const { rows } = await db.pool.query(`select hubsync.enable_sync('companies', null, false) as msg`);
    expect(rows[0].msg).toBe("companies: enabled; discovery queued");
  });

  it("resync(type, since => null) widens it: reads only the older records, by search, and drops nothing", async () => {
    const before = await db.pool.query(`select id, _sync_inserted_at from hubspot.contacts order by id::bigint`);
    const { rows } = await db.pool.query(`select hubsync.resync('contacts', since => null) as msg`);
    expect(rows[0].msg).toContain("horizon widened to every record");
    const since = Date.now();
    const results = await cycleAll(worker, ["contacts"]);
    expect(results.filter((r) => r.error)).toEqual([]);
    expect(results[0]!.phase).toBe("live");

    const all = await sim.control.listRecords("contacts");
    expect(await tableIds()).toEqual(all.map((r) => r.id).sort((a, b) => Number(a) - Number(b)));
    // the rows already there were not written again
    const after = new Map((await db.pool.query(`select id, _sync_inserted_at from hubspot.contacts`)).rows.map((r) => [r.id, r._sync_inserted_at.getTime()]));
    for (const r of before.rows) expect(after.get(r.id), r.id).toBe(r._sync_inserted_at.getTime());
    // the widening read the older records only: 299 of them (one moved past the horizon), two pages
    const run = await db.pool.query(`select records, details from hubsync.runs where kind = 'backfill' and object_type = 'contacts' order by id desc limit 1`);
    expect(run.rows[0]).toMatchObject({ records: OLD - 1, details: { mode: "horizon", until: new Date(Date.parse(HORIZON) - 1).toISOString() } });
    const c = await calls(since);
    expect(c).toMatchObject({ lists: 0, batchReads: 0 });
    expect(c.searches).toBeLessThanOrEqual(Math.ceil(OLD / 200) + 2);
    const status = await db.pool.query(`select backfill_since from hubsync.status where object_type = 'contacts'`);
    expect(status.rows[0].backfill_since).toBeNull();
    // the incremental pull kept its place meanwhile
    const cursor = await db.pool.query(`select state from hubsync.cursors where object_type = 'contacts' and stream = 'incremental'`);
    expect(cursor.rows[0].state.watermark).toBeGreaterThan(Date.parse(HORIZON));
  });
});
