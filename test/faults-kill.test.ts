import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { objectQueue } from "../src/core/jobs.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { enableSync } from "./support/worker.ts";
import { converge, lockedJobs, report, traffic, workers, type Workers } from "./support/worker-process.ts";

// SIGKILL of `hubsync worker` (no goodbye, its jobs stay locked in graphile-worker) during a
// backfill, an incremental pull of thousands of changes and a write-back burst; a new worker
// process must carry on alone, and the copy must match HubSpot record by record.

const TYPES = ["contacts", "companies"];
let db: TestDatabase;
let sim: RunningSimulator;
let w: Workers;

const count = async (sql: string, params: unknown[] = []) => Number((await db.pool.query(sql, params)).rows[0]?.n ?? 0);
const phases = async () => (await db.pool.query(`select object_type, phase from hubsync.objects order by 1`)).rows.map((r) => `${r.object_type}:${r.phase}`).join(" ");
/** Contacts whose first name a test changed in HubSpot ("Changed 12") and the copy has pulled. */
const renamed = (prefix: string) => count(`select count(*) as n from hubspot.contacts where firstname like $1`, [`${prefix} %`]);
const allLive = async () => (await phases()) === "companies:live contacts:live";

beforeAll(async () => {
  // ~2,200 contacts, ~600 companies; 40–70 ms per HubSpot request so the work takes long enough to be interrupted
  sim = await startSimulator({ rateLimits: false, seed: { size: 8_000, seed: 3 }, latencyMs: 40, latencyJitterMs: 30 });
  db = await installedDatabase("faults_kill");
  // a new worker looks for a killed one's jobs every half second (10 s by default)
  w = workers({ databaseUrl: db.url, sim, env: { HUBSYNC_DEAD_WORKER_CHECK_MS: "500" } });
});

afterAll(async () => {
  await w?.stopAll();
  await sim?.close();
  await db?.drop();
});

// Each test kills the worker the one before left running, on the copy it left converged, and
// starts the one the next test kills.
describe("SIGKILLed workers — one story, in order: later tests build on what earlier ones left", () => {
  it("SIGKILL during the backfill: a restarted worker resumes from the last page and the copy converges", async () => {
    const contacts = (await sim.control.listRecords("contacts")).length;
    for (const t of TYPES) await enableSync(db.pool, t);
    const first = w.start();
    await waitFor("the backfill to be under way", async () => {
      const exists = await count(`select count(*) as n from hubsync.objects where object_type = 'contacts' and phase = 'backfilling' and table_name is not null`);
      return exists && (await count(`select count(*) as n from hubspot.contacts`)) >= 600 ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 50, describe: () => w.logTail() });
    await w.kill(first);
    const copiedBeforeKill = await count(`select count(*) as n from hubspot.contacts`);
    expect(copiedBeforeKill).toBeLessThan(contacts);
    // What graphile-worker alone would do: the backfill stays locked (4 hours) by a process that is gone.
    expect((await lockedJobs(db.pool)).map((j) => j.task)).toContain("hubsync_backfill");
    await traffic(sim.control);

    w.start();
    const done = await converge(db.pool, sim.control, TYPES, { associations: true, workers: w, also: allLive });
    const log = await sim.control.requests(); // the restarted worker's requests (the counters were reset at the kill)
    const t = await traffic(sim.control);
    const contactPages = Math.ceil(contacts / 100);
    const contactListCalls = log.filter((r) => r.method === "GET" && r.path.startsWith("/crm/objects/2026-09/contacts?")).length;
    report("kill during backfill", { converge_ms: done.ms, requests: t.requests, "429s": t.rateLimited, records_compared: done.comparison.records, copied_before_kill: copiedBeforeKill, contact_pages_after_restart: `${contactListCalls}/${contactPages}`, summary: done.comparison.summary });
    expect(done.comparison.ok).toBe(true);
    // resumed, not started over: the contact pages already copied were not fetched again
    expect(contactListCalls).toBeGreaterThan(0);
    expect(contactListCalls).toBeLessThanOrEqual(contactPages - Math.floor(copiedBeforeKill / 100) + 1);
    await idle();
  });

  it("SIGKILL during an incremental pull of thousands of changes: nothing is lost when a new worker takes over", async () => {
    const def = sim.store.resolveType("contacts")!;
    const ids = (await sim.control.listRecords("contacts")).map((r) => r.id);
    ids.forEach((id, i) => sim.store.updateRecord(def, id, { firstname: `Changed ${i}`, lastname: `Pull ${i}` }));
    await traffic(sim.control);
    const [worker] = await workersAlive();
    await db.pool.query(`select hubsync_worker.add_job('hubsync_pull', json_build_object('objectType', 'contacts'), queue_name := $1, job_key := 'hubsync_pull:contacts')`, [objectQueue("contacts")]);
    await waitFor("the pull to be under way", async () => ((await renamed("Changed")) >= 200 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 25,
      describe: () => w.logTail(),
    });
    await w.kill(worker!);
    const pulledBeforeKill = await renamed("Changed");
    expect(pulledBeforeKill).toBeLessThan(ids.length);

    w.start();
    const pulled = async () => (await renamed("Changed")) === ids.length;
    const done = await converge(db.pool, sim.control, TYPES, { workers: w, also: pulled });
    const t = await traffic(sim.control);
    report("kill during incremental pull", { changes: ids.length, pulled_before_kill: pulledBeforeKill, converge_ms: done.ms, requests: t.requests, "429s": t.rateLimited, records_compared: done.comparison.records });
    expect(done.comparison.ok).toBe(true);
    await idle();
  });

  it("SIGKILL during a write-back burst: every insert is created exactly once and every update arrives", async () => {
    await db.pool.query(`select hubsync.enable_write_back('contacts')`);
    const before = (await sim.control.listRecords("contacts")).length;
    const existing = (await db.pool.query<{ id: string }>(`select id from hubspot.contacts order by id limit 200`)).rows.map((r) => r.id);
    const [worker] = await workersAlive();
    await traffic(sim.control);

    // 12 transactions of 25 inserts and ~17 updates, 80 ms apart; the worker dies after HubSpot got the first ones.
    let killed = false;
    let sentBeforeKill = 0;
    for (let tx = 0; tx < 12; tx++) {
      const client = await db.pool.connect();
      try {
        await client.query("begin");
        await client.query(`insert into hubspot.contacts (email, firstname) select 'burst' || $1 || '-' || g || '@faults.test', 'Burst' from generate_series(1, 25) g`, [tx]);
        await client.query(`update hubspot.contacts set lastname = 'Pushed ' || $1 where id = any($2::text[])`, [tx, existing.slice(tx * 17, tx * 17 + 17)]);
        await client.query("commit");
      } finally {
        client.release();
      }
      await new Promise((r) => setTimeout(r, 80));
      if (!killed) {
        sentBeforeKill = (await sim.control.listRecords("contacts")).length - before;
        if (sentBeforeKill > 0) {
          await w.kill(worker!);
          killed = true;
        }
      }
    }
    expect(killed).toBe(true);
    const waiting = await count(`select count(*) as n from hubsync.outbox where status in ('pending', 'in_flight')`);
    expect(waiting).toBeGreaterThan(0);

    w.start();
    const drained = async () => (await count(`select count(*) as n from hubsync.outbox where status in ('pending', 'in_flight')`)) === 0;
    const done = await converge(db.pool, sim.control, TYPES, { workers: w, also: drained });
    const t = await traffic(sim.control);
    const created = (await sim.control.listRecords("contacts")).filter((r) => r.properties.email?.endsWith("@faults.test"));
    report("kill during push burst", { inserts: 300, updates: 12 * 17, created_before_kill: sentBeforeKill, outbox_waiting_at_kill: waiting, converge_ms: done.ms, requests: t.requests, "429s": t.rateLimited, records_compared: done.comparison.records });
    expect(done.comparison.ok).toBe(true);
    expect(created).toHaveLength(300);
    expect(new Set(created.map((r) => r.properties.email)).size).toBe(300);
    expect(await count(`select count(*) as n from hubsync.outbox where status <> 'sent'`)).toBe(0);
    await idle();
  });

  it("two workers, one SIGKILLed mid-pull: the other carries its job on without any restart", async () => {
    const [first] = await workersAlive();
    const def = sim.store.resolveType("contacts")!;
    const ids = (await sim.control.listRecords("contacts")).map((r) => r.id);
    ids.forEach((id, i) => sim.store.updateRecord(def, id, { firstname: `Two ${i}` }));
    await traffic(sim.control);
    await db.pool.query(`select hubsync_worker.add_job('hubsync_pull', json_build_object('objectType', 'contacts'), queue_name := $1, job_key := 'hubsync_pull:contacts')`, [objectQueue("contacts")]);
    await waitFor("the pull to be under way", async () => ((await renamed("Two")) >= 100 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 25,
      describe: () => w.logTail(),
    });
    const second = w.start(); // joins while the first holds the pull
    await w.kill(first!);
    const pulledBeforeKill = await renamed("Two");
    expect(pulledBeforeKill).toBeLessThan(ids.length);
    const pulled = async () => (await renamed("Two")) === ids.length;
    const done = await converge(db.pool, sim.control, TYPES, { workers: w, also: pulled });
    const t = await traffic(sim.control);
    report("kill one of two workers mid-pull", { changes: ids.length, pulled_before_kill: pulledBeforeKill, converge_ms: done.ms, requests: t.requests, "429s": t.rateLimited, records_compared: done.comparison.records });
    expect(done.comparison.ok).toBe(true);
    expect(w.alive()).toEqual([second]);
    await idle();
  });
});

/** The worker processes alive right now (the tests restart them). */
async function workersAlive() {
  const alive = w.alive();
  expect(alive.length).toBe(1);
  return alive;
}

/** Nothing left locked once the work is done (a killed worker's jobs were released and run). */
async function idle() {
  await waitFor("no job locked", async () => ((await lockedJobs(db.pool)).length === 0 ? true : undefined), {
    timeoutMs: 15_000,
    describe: async () => JSON.stringify(await lockedJobs(db.pool)),
  });
}
