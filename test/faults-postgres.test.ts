import { afterAll, beforeAll, expect, it } from "vitest";
import pg from "pg";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { startLocalPostgres, withDatabase, type LocalPostgres, type LocalPostgresKind } from "../src/tools/shared/local-postgres.ts";
import { install } from "../src/core/db/install.ts";
import { createPool } from "../src/core/db/pool.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { objectQueue } from "../src/core/jobs.ts";
import { quietLog } from "./support/worker.ts";
import { converge, report, traffic, workers, type Workers } from "./support/worker-process.ts";

// PostgreSQL restarted (fast shutdown: every connection cut) while the worker pulls thousands of
// changes and pushes a write-back burst. The worker rides it out, or exits 75 for its supervisor
// to restart it, and the copy must end up matching HubSpot with nothing lost or sent twice.

const TYPES = ["contacts", "companies"];
let server: LocalPostgres;
let sim: RunningSimulator;
let pool: pg.Pool;
let url: string;
let w: Workers;

beforeAll(async () => {
  const kind = (process.env.HUBSYNC_TEST_POSTGRES ?? "auto") as LocalPostgresKind | "auto";
  server = await startLocalPostgres(kind);
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query("create database faults_pg");
  await admin.end();
  url = withDatabase(server.adminUrl, "faults_pg");
  await install({ databaseUrl: url, log: quietLog });
  pool = createPool(url, { max: 4, applicationName: "faults test" });
  sim = await startSimulator({ rateLimits: false, seed: { size: 6_000, seed: 5 }, latencyMs: 30, latencyJitterMs: 30 });
  // a restarted worker looks for the jobs its predecessor left locked every half second (10 s by default)
  w = workers({ databaseUrl: url, sim, env: { HUBSYNC_DEAD_WORKER_CHECK_MS: "500", HUBSYNC_DATABASE_WAIT_MS: "30000" } });
}, 120_000);

afterAll(async () => {
  await w?.stopAll();
  await pool?.end();
  await sim?.close();
  await server?.stop();
});

/** A query that waits out the restart, as an application's own retry would. */
async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt > 100) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

it("a PostgreSQL restart during pulls and pushes: the worker carries on by itself and the copy converges", async () => {
  await pool.query(`select hubsync.enable_sync('contacts', null, true), hubsync.enable_sync('companies')`);
  const first = w.start();
  // the supervisor: a worker that exits non-zero is started again (systemd Restart=on-failure)
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  void first.exited.then((e) => {
    if (e.code === 0 || e.signal !== null) return;
    exit = e;
    w.start();
  });
  await waitFor("both types live", async () => {
    const { rows } = await pool.query(`select count(*) filter (where phase = 'live')::int as n from hubsync.objects`);
    return rows[0].n === 2 ? true : undefined;
  }, { timeoutMs: 40_000, describe: () => w.logTail() });
  await converge(pool, sim.control, TYPES, { workers: w });

  // Load: every contact changed in HubSpot, a pull started, and local inserts/updates in 20 transactions.
  const def = sim.store.resolveType("contacts")!;
  const ids = (await sim.control.listRecords("contacts")).map((r) => r.id);
  ids.forEach((id, i) => sim.store.updateRecord(def, id, { firstname: `Restart ${i}` }));
  await traffic(sim.control);
  await pool.query(`select hubsync_worker.add_job('hubsync_pull', json_build_object('objectType', 'contacts'), queue_name := $1, job_key := 'hubsync_pull:contacts')`, [objectQueue("contacts")]);
  const local = ids.slice(0, 400);
  const writes = (async () => {
    for (let tx = 0; tx < 20; tx++) {
      await retrying(async () => {
        const c = await pool.connect();
        try {
          await c.query("begin");
          await c.query(`insert into hubspot.contacts (email, firstname) select 'pg' || $1 || '-' || g || '@faults.test', 'Inserted' from generate_series(1, 10) g`, [tx]);
          await c.query(`update hubspot.contacts set lastname = 'Local ' || $1 where id = any($2::text[])`, [tx, local.slice(tx * 20, tx * 20 + 20)]);
          await c.query("commit");
        } catch (err) {
          c.release(true);
          throw err;
        }
        c.release();
      });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  await waitFor("the pull and the pushes to be under way", async () => {
    const { rows } = await pool.query(`select (select count(*) from hubspot.contacts where firstname like 'Restart %')::int as pulled, (select count(*) from hubsync.outbox where status = 'sent')::int as sent`);
    return rows[0].pulled > 0 && rows[0].sent > 0 ? true : undefined;
  }, { timeoutMs: 20_000, intervalMs: 25, describe: () => w.logTail() });
  const restartAt = Date.now();
  await server.restart();
  const restartMs = Date.now() - restartAt;
  await writes;

  // A worker that had a job finishing when the connections were cut exits 75 for its supervisor
  // to start it again; one that had not reconnects by itself.
  const caughtUp = async () => {
    const { rows } = await pool.query(
      `select (select count(*) from hubsync.outbox where status in ('pending', 'in_flight'))::int as waiting, (select count(*) from hubspot.contacts where firstname like 'Restart %')::int as pulled`,
    );
    return rows[0].waiting === 0 && rows[0].pulled === ids.length;
  };
  const done = await converge(pool, sim.control, TYPES, { workers: w, also: caughtUp, timeoutMs: 30_000 });
  const t = await traffic(sim.control);
  const created = (await sim.control.listRecords("contacts")).filter((r) => r.properties.email?.endsWith("@faults.test"));
  // Either outcome is right, and nothing else: kept running (no exit seen), or exited 75 and was restarted.
  expect([null, JSON.stringify({ code: 75, signal: null })]).toContain(exit && JSON.stringify(exit));
  report("postgres restart", { restart_ms: restartMs, worker: exit ? `exited ${JSON.stringify(exit)}, restarted` : "kept running", converge_ms: done.ms, requests: t.requests, "429s": t.rateLimited, records_compared: done.comparison.records });
  expect(done.comparison.ok).toBe(true);
  expect(created).toHaveLength(200);
  const [worker] = w.alive();
  expect(w.alive()).toHaveLength(1);
  expect(await worker!.stop()).toBe(0); // and it still stops cleanly
}, 90_000);
