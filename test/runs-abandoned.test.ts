import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { unlockDeadWorkers } from "../src/core/worker/liveness.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { enableSync, quietLog } from "./support/worker.ts";
import { workers, type Workers } from "./support/worker-process.ts";
import { startCli } from "./support/cli.ts";

// A run carries the id of the worker running it; once that worker's liveness lock is gone (the
// process was killed), the run is closed as 'abandoned' with the reason instead of reading as
// under way forever.

let db: TestDatabase;
beforeAll(async () => {
  db = await installedDatabase("runs_abandoned");
});
afterAll(async () => {
  await db?.drop();
});

type Run = { id: string; kind: string; status: string; worker_id: string | null; error: string | null; finished_at: Date | null };
const runs = async (where = "true", params: unknown[] = []) =>
  (await db.pool.query<Run>(`select id, kind, status, worker_id, error, finished_at from hubsync.runs where ${where} order by id`, params)).rows;

describe("the dead-worker check", () => {
  it("closes the runs of a worker whose lock is free, and leaves a live worker's, its own and a just-started one's", async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query(`select pg_advisory_lock(hashtextextended('hubsync worker alive', 0))`);
      await db.pool.query(
        `insert into hubsync.runs (object_type, kind, worker_id, started_at) values
           ('contacts', 'backfill', 'ghost', now() - interval '1 minute'),
           ('contacts', 'incremental', 'alive', now() - interval '1 minute'),
           ('companies', 'incremental', 'me', now() - interval '1 minute'),
           ('deals', 'incremental', 'late', now())`,
      );
      await unlockDeadWorkers(db.pool, new Set(["me"]), quietLog);
      const after = await runs();
      expect(after.map((r) => [r.worker_id, r.status])).toEqual([
        ["ghost", "abandoned"],
        ["alive", "running"],
        ["me", "running"],
        ["late", "running"],
      ]);
      expect(after[0]!.error).toBe("worker ghost stopped during the run (killed, or lost its database connection); its job is retried");
      expect(after[0]!.finished_at).not.toBeNull();
    } finally {
      await holder.end();
    }
    // the holder's connection is gone, so is its worker
    await unlockDeadWorkers(db.pool, new Set(["me"]), quietLog);
    expect((await runs("worker_id = 'alive'")).map((r) => r.status)).toEqual(["abandoned"]);
    await db.pool.query(`delete from hubsync.runs`);
  });
});

describe("a `hubsync worker` SIGKILLed mid-backfill", () => {
  let sim: RunningSimulator;
  let w: Workers;
  beforeAll(async () => {
    // ~800 contacts, 60–90 ms a request: the backfill is still under way after its third page, when the worker is killed
    sim = await startSimulator({ rateLimits: false, seed: { size: 3_000, seed: 11 }, latencyMs: 60, latencyJitterMs: 30 });
    w = workers({ databaseUrl: db.url, sim, env: { HUBSYNC_DEAD_WORKER_CHECK_MS: "500" } });
  });
  afterAll(async () => {
    await w?.stopAll();
    await sim?.close();
  });

  it("leaves its backfill run 'running' until the next worker's check closes it as abandoned", async () => {
    await enableSync(db.pool, "contacts");
    const first = w.start();
    const killedRun = await waitFor(
      "the backfill to be under way",
      async () => {
        const [run] = await runs(`kind = 'backfill' and status = 'running'`);
        const copied = Number((await db.pool.query(`select count(*) as n from hubspot.contacts`).catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n);
        return run && copied >= 300 ? run : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50, describe: () => w.logTail() },
    );
    expect(killedRun.worker_id).toMatch(/\S/);
    await w.kill(first);
    // nobody is left to finish it: without the check it would read 'running' forever
    await new Promise((r) => setTimeout(r, 1500));
    expect((await runs(`id = $1`, [killedRun.id]))[0]!.status).toBe("running");

    w.start();
    const closed = await waitFor(
      "the killed worker's run to be closed",
      async () => {
        const [run] = await runs(`id = $1 and status <> 'running'`, [killedRun.id]);
        return run;
      },
      { timeoutMs: 30_000, describe: () => w.logTail() },
    );
    expect(closed.status).toBe("abandoned");
    expect(closed.error).toBe(`worker ${killedRun.worker_id} stopped during the run (killed, or lost its database connection); its job is retried`);

    // the new worker carries the backfill on under its own id, and its runs are not taken for dead ones
    await waitFor("the backfill to finish", async () => ((await db.pool.query(`select phase from hubsync.objects where object_type = 'contacts'`)).rows[0]?.phase === "live" ? true : undefined), {
      timeoutMs: 90_000,
      intervalMs: 500,
      describe: () => w.logTail(),
    });
    const all = await runs();
    expect(all.filter((r) => r.status === "abandoned").map((r) => r.id)).toEqual([killedRun.id]);
    const second = all.filter((r) => r.worker_id !== killedRun.worker_id);
    expect(second.some((r) => r.kind === "backfill" && r.status === "ok"), JSON.stringify(all)).toBe(true);
    expect(new Set(second.map((r) => r.worker_id)).size).toBe(1);
    expect(second[0]!.worker_id).not.toBeNull();
  }, 200_000);
});

describe("a `hubsync sync` SIGKILLed mid-backfill", () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    // HubSpot never answers a read of companies' records (the discovery before it is answered at
    // once): the backfill stays under way, its run 'running', until the process is killed
    sim = await startSimulator({ rateLimits: false, seed: { size: 2_000, seed: 12 }, faults: { timeoutRate: 1, timeoutMs: 120_000, faultPath: "/crm/v3/objects/companies" } });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it("holds a lock as a worker does, so its run is closed as abandoned once it is gone", async () => {
    await enableSync(db.pool, "companies");
    const sync = startCli(["sync", "--once", "companies"], { DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url });
    const run = await waitFor("the backfill to be under way", async () => (await runs(`kind = 'backfill' and status = 'running' and object_type = 'companies'`))[0], {
      timeoutMs: 60_000,
      intervalMs: 50,
      describe: () => sync.output(),
    });
    expect(run.worker_id).toMatch(/^sync-/);
    // alive: the check leaves it alone
    await new Promise((r) => setTimeout(r, 5_500));
    await unlockDeadWorkers(db.pool, new Set(), quietLog);
    expect((await runs(`id = $1`, [run.id]))[0]!.status).toBe("running");
    sync.child.kill("SIGKILL");
    await sync.exited;
    await waitFor("the run to be closed", async () => {
      await unlockDeadWorkers(db.pool, new Set(), quietLog);
      return (await runs(`id = $1 and status = 'abandoned'`, [run.id]))[0];
    }, { timeoutMs: 10_000 });
  }, 120_000);
});
