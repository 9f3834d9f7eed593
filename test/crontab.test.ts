import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { DEFAULT_CRONTAB, DEFAULT_TASK_DIRECTORY, loadCrontab, taskNames } from "../src/core/worker/runner.ts";
import { startWorkerProcess, type WorkerProcess } from "../src/tools/shared/worker-process.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { connectWorker, enableSync } from "./support/worker.ts";
import { installedDatabase } from "./support/database.ts";
import { clockAheadEnv } from "./support/clock-ahead.ts";
import type { TestDatabase } from "./support/database.ts";

// The `crontab` file hubsync ships is what keeps a copy current without anyone calling anything:
// each line must name a task hubsync has, parse in graphile-worker, fire when its comment says,
// and its job must run to success in a real worker.

const crontab = loadCrontab(DEFAULT_CRONTAB);

/** Minutes of one day (a Monday, the 1st of January) at which an item fires. */
function firingsOnADay(item: (typeof crontab.items)[number]): Array<{ hour: number; min: number }> {
  const out: Array<{ hour: number; min: number }> = [];
  for (let hour = 0; hour < 24; hour++) for (let min = 0; min < 60; min++) if (item.match({ min, hour, date: 1, month: 1, dow: 1 })) out.push({ hour, min });
  return out;
}

describe("the crontab file", () => {
  it("names only hubsync's tasks, with options graphile-worker parses, firing when its comments say", () => {
    const tasks = taskNames(DEFAULT_TASK_DIRECTORY);
    for (const item of crontab.items) expect(tasks).toContain(item.task);
    const lines = readFileSync(DEFAULT_CRONTAB, "utf8").split("\n").filter((l) => l.trim() !== "" && !l.trimStart().startsWith("#"));
    expect(crontab.items).toHaveLength(lines.length);

    const every = (n: number) => Array.from({ length: 24 * 60 / n }, (_, i) => ({ hour: Math.floor((i * n) / 60), min: (i * n) % 60 }));
    const expected: Record<string, { task: string; fires: Array<{ hour: number; min: number }>; queueName?: string }> = {
      pull_all: { task: "hubsync_pull_all", fires: every(1) },
      pull_archived: { task: "hubsync_pull_archived", fires: every(5) },
      sweep_associations: { task: "hubsync_sweep_associations", fires: every(10), queueName: "hubsync:associations" },
      reconcile: { task: "hubsync_reconcile", fires: [{ hour: 3, min: 17 }] },
      push_sweep: { task: "hubsync_push", fires: every(1) },
      publish: { task: "hubsync_publish", fires: every(1) },
      prune: { task: "hubsync_prune", fires: Array.from({ length: 24 }, (_, hour) => ({ hour, min: 41 })) },
      sweep_lists: { task: "hubsync_sweep_lists", fires: Array.from({ length: 24 }, (_, hour) => ({ hour, min: 23 })), queueName: "hubsync:lists" },
    };
    expect(crontab.items.map((i) => i.identifier).sort()).toEqual(Object.keys(expected).sort());
    for (const item of crontab.items) {
      const want = expected[item.identifier]!;
      expect({ id: item.identifier, task: item.task }).toEqual({ id: item.identifier, task: want.task });
      // one job at a time per line (jobKey), retried a few times, never backfilled after downtime
      expect(item.options, item.identifier).toMatchObject({ backfillPeriod: 0, maxAttempts: 3, jobKey: `hubsync_${item.identifier}`, queueName: want.queueName });
      expect(firingsOnADay(item), item.identifier).toEqual(want.fires);
    }
  });
});

describe("a worker running the shipped crontab", () => {
  let db: TestDatabase;
  let sim: RunningSimulator;
  let worker: WorkerProcess | null = null;
  const logFile = join(mkdtempSync(join(tmpdir(), "hubsync-crontab-")), "worker.log");

  beforeAll(async () => {
    db = await installedDatabase("crontab");
    sim = await startSimulator({ rateLimits: false, seed: { size: 200, seed: 5 } });
    await enableSync(db.pool, "contacts", ["email", "firstname"]);
    await enableSync(db.pool, "companies");
    const deps = connectWorker(db.url, sim);
    try {
      expect((await cycleAll(deps, ["contacts", "companies"])).map((c) => c.error ?? c.phase)).toEqual(["live", "live"]);
    } finally {
      await deps.close();
    }
    // the worker's clock starts 5 s before a whole minute: its cron fires then, not at the wall clock's next minute
    worker = startWorkerProcess({ databaseUrl: db.url, hubspotUrl: sim.url, token: sim.token, logFile, concurrency: 3, env: clockAheadEnv(5_000) });
  });

  afterAll(async () => {
    await worker?.stop();
    await sim?.close();
    await db?.drop();
  });

  const runsSince = async (since: Date) =>
    (await db.pool.query<{ kind: string; status: string }>(`select kind, status from hubsync.runs where started_at > $1 order by id`, [since])).rows;
  const failedJobs = async () =>
    (await db.pool.query<{ task: string; last_error: string }>(
      `select t.identifier as task, j.last_error from hubsync_worker._private_jobs j join hubsync_worker._private_tasks t on t.id = j.task_id where j.last_error is not null`,
    )).rows;

  it("fires the every-minute lines at the worker's next minute, and their jobs run", async () => {
    const started = new Date();
    await waitFor(
      "cron to fire pull_all and push_sweep",
      async () => {
        // pull_archived fires too when the next minute is a multiple of five: only these two must have
        const { rows } = await db.pool.query<{ identifier: string }>(`select identifier from hubsync_worker._private_known_crontabs where last_execution > $1 order by 1`, [started]);
        const fired = rows.map((r) => r.identifier);
        return fired.includes("pull_all") && fired.includes("push_sweep") ? fired : undefined;
      },
      {
        timeoutMs: 100_000,
        intervalMs: 1_000,
        describe: async () => `${JSON.stringify((await db.pool.query(`select * from hubsync_worker._private_known_crontabs`)).rows)} ${started.toISOString()}`,
      },
    );
    // pull_all queued an incremental pull of each live object, and the worker ran them
    await waitFor(
      "the incremental pulls pull_all queued",
      async () => {
        const runs = await runsSince(started);
        return runs.filter((r) => r.kind === "incremental" && r.status === "ok").length >= 2 ? runs : undefined;
      },
      { timeoutMs: 30_000, describe: async () => JSON.stringify(await runsSince(started)) },
    );
    expect(await failedJobs()).toEqual([]);
  }, 150_000);

  it("runs the job of every line, as cron queues it, to success", async () => {
    // what the prune line must clear: a run and a sent change from two months ago
    await db.pool.query(`insert into hubsync.runs (object_type, kind, status, started_at, finished_at) values ('contacts', 'incremental', 'ok', now() - interval '60 days', now() - interval '60 days')`);
    await db.pool.query(`insert into hubsync.outbox (object_type, record_id, op, status, created_at, sent_at) values ('contacts', '1', 'update', 'sent', now() - interval '60 days', now() - interval '60 days')`);
    // the set-up's cycle listed the archived records a moment ago (and the crontab may have swept): a
    // scan or sweep from the crontab is due only once the daily-quota policy's interval has passed
    // since, so make that an hour ago
    await db.pool.query(
      `update hubsync.cursors set state = state || jsonb_build_object('scannedAt', (now() - interval '1 hour')::text, 'sweptAt', (now() - interval '1 hour')::text)
        where stream in ('archived', 'associations:sweep')`,
    );
    const started = new Date();
    for (const item of crontab.items) {
      await db.pool.query(`select hubsync_worker.add_job($1, $2::json, queue_name := $3, max_attempts := $4, job_key := $5)`, [
        item.task,
        JSON.stringify({ ...item.payload, _cron: { ts: started.toISOString(), backfilled: false } }),
        item.options.queueName ?? null,
        item.options.maxAttempts ?? null,
        item.options.jobKey ?? null,
      ]);
    }
    // what each line's task leaves in hubsync.runs once it has run
    await waitFor(
      "the archived pull, association sweep and reconciliation",
      async () => {
        const kinds = new Set((await runsSince(started)).filter((r) => r.status === "ok").map((r) => r.kind));
        return ["archived", "associations", "reconcile", "incremental"].every((k) => kinds.has(k)) ? kinds : undefined;
      },
      { timeoutMs: 60_000, describe: async () => `${JSON.stringify(await runsSince(started))}\n${JSON.stringify(await failedJobs())}` },
    );
    await waitFor("every job to finish", async () => {
      const { rows } = await db.pool.query(`select count(*)::int as n from hubsync_worker._private_jobs where key = any($1::text[])`, [crontab.items.map((i) => i.options.jobKey)]);
      return rows[0].n === 0 ? true : undefined;
    }, { timeoutMs: 60_000, describe: async () => JSON.stringify(await failedJobs()) });
    expect(await failedJobs()).toEqual([]);
    const old = await db.pool.query(
      `select (select count(*)::int from hubsync.runs where started_at < now() - interval '30 days') as runs,
              (select count(*)::int from hubsync.outbox where sent_at < now() - interval '30 days') as outbox`,
    );
    expect(old.rows[0]).toEqual({ runs: 0, outbox: 0 });
    expect(await worker!.stop()).toBe(0);
    worker = null;
  }, 150_000);
});
