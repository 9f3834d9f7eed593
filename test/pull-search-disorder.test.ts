import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEARCH_DISORDER, startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { pullIncremental } from "../src/core/pull/incremental.ts";
import { readCursor } from "../src/core/schema/cursors.ts";
import { staleViews } from "../src/simulator/search-faults.ts";
import { connectWorker, enableSync, installedDatabase } from "./pull-helpers.ts";
import type { TestDatabase } from "./support/database.ts";

/**
 * Incremental pulls against a search that misbehaves as HubSpot's does on busy portals: records
 * found at their old last-modified position carrying their new values and time (out of sort
 * order, later than the query's upper bound), and pages shorter than the limit, even empty, that
 * still carry paging.next. A pull that trusts the order or the page length skips changes and
 * reports itself caught up.
 */

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;
const ids: string[] = [];
const N = 20_000;
let createdFrom = 0;

beforeAll(async () => {
  db = await installedDatabase("pull_disorder");
  sim = await startSimulator({ rateLimits: false, faults: { ...SEARCH_DISORDER, seed: 11 } });
  worker = connectWorker(db.url, sim);
  // Written into the store directly: 20,000 control calls would take longer than the test.
  createdFrom = Date.now();
  const contacts = sim.store.resolveType("contacts")!;
  for (let i = 0; i < N; i++) ids.push(sim.store.createRecord(contacts, { email: `d${i}@example.com`, firstname: "Before" }).id);
  await enableSync(db.pool, "contacts", ["email", "firstname"]);
  // A short lag window: the incremental pass right after the backfill need not read it all again.
  const first = await cycleAll(worker, ["contacts"], { archived: false, incremental: { lagWindowMs: 1_000 } });
  expect(first.filter((r) => r.error)).toEqual([]);
}, 180_000);

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

const stale = async (expected: (id: string) => string): Promise<string[]> => {
  const { rows } = await db.pool.query<{ id: string; firstname: string }>(`select id, firstname from hubspot.contacts`);
  const got = new Map(rows.map((r) => [r.id, r.firstname]));
  return ids.filter((id) => got.get(id) !== expected(id));
};

describe("incremental pull against a search that returns hits out of order and short pages", () => {
  it("a backlog of 20,000 changes, about 5% of hits out of order, ends with every record current after one cycle", async () => {
    const contacts = sim.store.resolveType("contacts")!;
    for (const [i, id] of ids.entries()) sim.store.updateRecord(contacts, id, { firstname: `After ${i}` });
    const everyHit = N + staleViews(sim.store, contacts).length;
    const outOfOrder = staleViews(sim.store, contacts).length / everyHit;
    expect(outOfOrder).toBeGreaterThan(0.03);
    expect(outOfOrder).toBeLessThan(0.07);

    // One cycle: what `hubsync sync --once` runs before it exits.
    const before = Date.now();
    // The window reaches back to the creations, where the out-of-order entries sit.
    const [cycle] = await cycleAll(worker, ["contacts"], { archived: false, incremental: { lagWindowMs: Date.now() - createdFrom } });
    expect(cycle!.error).toBeUndefined();
    const behind = await stale((id) => `After ${ids.indexOf(id)}`);
    expect(behind, `${behind.length} of ${N} records not current (${(outOfOrder * 100).toFixed(1)}% of hits out of order)`).toEqual([]);

    const run = (await db.pool.query(`select details from hubsync.runs where kind = 'incremental' order by id desc limit 1`)).rows[0].details;
    expect(run.shortPages).toBeGreaterThan(0);
    const cursor = (await readCursor<{ watermark: number }>(db.pool, "contacts", "incremental"))!;
    expect(cursor.watermark).toBeGreaterThanOrEqual(before);
    expect(cursor.watermark).toBeLessThanOrEqual(Date.now());
  }, 120_000);

  it("applies hits newer than the run's bound without moving the watermark past it; the next run finds nothing missing", async () => {
    const contacts = sim.store.resolveType("contacts")!;
    const moved = ids.slice(0, 2_000);
    for (const id of moved) sim.store.updateRecord(contacts, id, { firstname: "Backlog" });
    // After the first page, users edit records the run has not reached: with 5% stale entries some
    // come back at their old position carrying a time after the run's start.
    let searches = 0;
    let editedAt = 0;
    const deps = {
      ...worker,
      hubspot: {
        ...worker.hubspot,
        search: async (...args: Parameters<typeof worker.hubspot.search>) => {
          const page = await worker.hubspot.search(...args);
          if (++searches === 1) {
            await new Promise((r) => setTimeout(r, 5));
            editedAt = Date.now();
            for (const id of moved) sim.store.updateRecord(contacts, id, { firstname: "Edited mid-run" });
          }
          return page;
        },
      },
    };
    const run = await pullIncremental(deps, "contacts", { lagWindowMs: 1_000, pageSize: 100 });
    expect(run.details!.beyondBound).toBeGreaterThan(0);
    const cursor = (await readCursor<{ watermark: number }>(db.pool, "contacts", "incremental"))!;
    expect(cursor.watermark).toBeLessThan(editedAt);

    await pullIncremental(worker, "contacts", { lagWindowMs: 1_000 });
    const behind = await stale((id) => (moved.includes(id) ? "Edited mid-run" : `After ${ids.indexOf(id)}`));
    expect(behind).toEqual([]);
  }, 120_000);

  it("a run that fails part-way keeps its watermark, and the next run finishes the window it left", async () => {
    const contacts = sim.store.resolveType("contacts")!;
    const changed = ids.slice(5_000, 11_000);
    for (const id of changed) sim.store.updateRecord(contacts, id, { firstname: "Resumed" });
    const before = (await readCursor<{ watermark: number }>(db.pool, "contacts", "incremental"))!;
    let searches = 0;
    const failing = {
      ...worker,
      hubspot: {
        ...worker.hubspot,
        search: async (...args: Parameters<typeof worker.hubspot.search>) => {
          if (++searches === 28) throw new Error("connection reset");
          return worker.hubspot.search(...args);
        },
      },
    };
    await expect(pullIncremental(failing, "contacts", { lagWindowMs: 1_000 })).rejects.toThrow("connection reset");
    const left = (await readCursor<{ watermark: number; window?: { afterId: string } }>(db.pool, "contacts", "incremental"))!;
    expect(left.watermark).toBe(before.watermark);
    expect(Number(left.window?.afterId)).toBeGreaterThan(0);

    const resumed = await pullIncremental(worker, "contacts", { lagWindowMs: 1_000 });
    expect(resumed.details!.windows).toBe(2);
    const done = (await readCursor<{ watermark: number; window?: unknown }>(db.pool, "contacts", "incremental"))!;
    expect(done.window).toBeUndefined();
    const { rows } = await db.pool.query<{ n: number }>(`select count(*)::int as n from hubspot.contacts where id = any($1::text[]) and firstname = 'Resumed'`, [changed]);
    expect(rows[0]!.n).toBe(changed.length);
  }, 120_000);

  it("gives up on empty pages that point further for ever, without moving the watermark", async () => {
    const before = (await readCursor<{ watermark: number }>(db.pool, "contacts", "incremental"))!;
    const endless = {
      ...worker,
      hubspot: { ...worker.hubspot, search: async () => ({ total: 5, results: [], nextAfter: "0" }) },
    };
    await expect(pullIncremental(endless, "contacts", { lagWindowMs: 1_000 })).rejects.toThrow(/empty pages in a row/);
    const after = (await readCursor<{ watermark: number }>(db.pool, "contacts", "incremental"))!;
    expect(after.watermark).toBe(before.watermark);
  });
});
