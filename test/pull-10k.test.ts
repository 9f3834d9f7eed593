import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEARCH_DISORDER, startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { pullIncremental } from "../src/core/pull/incremental.ts";
import { connectWorker, enableSync, installedDatabase } from "./pull-helpers.ts";
import type { TestDatabase } from "./support/database.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;
let ids: string[] = [];
const N = 10_600;

beforeAll(async () => {
  db = await installedDatabase("pull_10k");
  sim = await startSimulator({ rateLimits: false, faults: SEARCH_DISORDER });
  worker = connectWorker(db.url, sim);
  // 10,600 records written into the simulator's store directly (one control call each would take longer than the test)
  const contacts = sim.store.resolveType("contacts")!;
  for (let i = 0; i < N; i++) ids.push(sim.store.createRecord(contacts, { email: `p${i}@example.com`, firstname: "Before" }).id);
  await enableSync(db.pool, "contacts");
  const first = await cycleAll(worker, null, { archived: false });
  expect(first.filter((r) => r.error)).toEqual([]);
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

describe("incremental pull past search's 10,000-result cap", () => {
  it("gets more than 10,000 changes, 10,300 of them in one millisecond, without gaps or loops", async () => {
    const sameMs = Date.now() + 5;
    await sim.control.touchRecords("contacts", ids.slice(0, 10_300), sameMs);
    for (const id of ids.slice(10_300)) await sim.control.updateRecord("contacts", id, { firstname: "After" });

    await sim.control.resetCounters();
    const run = await pullIncremental(worker, "contacts", { lagWindowMs: 1_000 });
    expect(run.records).toBe(N);
    // One window walked by id: about one search per 200 changes, however many share a millisecond.
    expect(run.details!.searches).toBeLessThan(N / 200 + 20);

    const touched = await db.pool.query(
      `select count(*)::int as n from hubspot.contacts where id = any($1::text[]) and updated_at = to_timestamp($2 / 1000.0)`,
      [ids.slice(0, 10_300), sameMs],
    );
    expect(touched.rows[0].n).toBe(10_300);
    const after = await db.pool.query(`select count(*)::int as n from hubspot.contacts where firstname = 'After'`);
    expect(after.rows[0].n).toBe(300);

    const requests = run.requests;
    console.log(
      `incremental: ${requests} requests (${run.details!.searches} searches) for ${run.records} changed records = ${(requests / run.records).toFixed(3)} calls/record`,
    );
    // a second run finds nothing new and fetches nothing
    const again = await pullIncremental(worker, "contacts", { lagWindowMs: 1_000 });
    expect(again.records).toBe(0);
    expect(again.details).toMatchObject({ fetched: 0 });
  });
});
