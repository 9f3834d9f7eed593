import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshDatabase, installedDatabase, type TestDatabase } from "./support/database.ts";
import { waitFor as waitUntil } from "../src/tools/shared/wait.ts";
import { DEFAULT_CRONTAB, loadCrontab } from "../src/core/worker/runner.ts";

/** Polls until fn gives something truthy (the bench's waitFor, with this file's timeout). */
const waitFor = <T>(what: string, fn: () => Promise<T | null | undefined | false | 0>) =>
  waitUntil(what, async () => (await fn()) || undefined, { timeoutMs: 20000, intervalMs: 50 });

const ROOT = new URL("../", import.meta.url).pathname;
const FIXTURE_TASKS = join(ROOT, "test", "worker-tasks");

let d: TestDatabase;
let tmp: string;
beforeAll(async () => {
  d = await installedDatabase("worker");
  await d.pool.query("create table worker_test_done (label text, at timestamptz default clock_timestamp())");
  tmp = await mkdtemp(join(tmpdir(), "hubsync-worker-"));
});
afterAll(async () => {
  await d?.drop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface Child {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWorkerProcess(env: Record<string, string>): Child {
  let out = "";
  const proc = spawn(process.execPath, ["src/cli/hubsync.ts", "worker"], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: d.url, HUBSPOT_ACCESS_TOKEN: "unused", HUBSPOT_BASE_URL: "http://127.0.0.1:9", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout!.on("data", (b) => (out += b));
  proc.stderr!.on("data", (b) => (out += b));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { proc, output: () => out, exited };
}


const jobsLeft = async () =>
  (await d.pool.query("select count(*)::int as n, count(locked_at)::int as locked from hubsync_worker._private_jobs")).rows[0] as { n: number; locked: number };

describe("hubsync worker", () => {
  it("runs jobs, registers its crontab, and on SIGTERM finishes the running job, leaves nothing locked and exits 0", async () => {
    const crontab = join(tmp, "crontab");
    await writeFile(crontab, "# test schedule\n*/30 * * * * hubsync_test_sleep ?id=test_tick&max=1 {ms: 1, label: 'cron'}\n");
    const w = startWorkerProcess({ HUBSYNC_TASK_DIRECTORY: FIXTURE_TASKS, HUBSYNC_CRONTAB: crontab, HUBSYNC_LOG_LEVEL: "info" });
    try {
      // A quick job runs.
      await d.pool.query("select hubsync_worker.add_job('hubsync_test_sleep', json_build_object('ms', 0, 'label', 'quick'))");
      await waitFor("the quick job", async () => (await d.pool.query("select 1 from worker_test_done where label = 'quick'")).rowCount);
      // The crontab was read: cron registered its item.
      const known = await d.pool.query("select identifier from hubsync_worker._private_known_crontabs");
      expect(known.rows).toEqual([{ identifier: "test_tick" }]);

      // A slow job is running when SIGTERM arrives.
      await d.pool.query("select hubsync_worker.add_job('hubsync_test_sleep', json_build_object('ms', 1500, 'label', 'slow'))");
      await waitFor("the slow job to start", async () => (await jobsLeft()).locked === 1);
      await new Promise((r) => setTimeout(r, 300));
      w.proc.kill("SIGTERM");
      const exit = await w.exited;
      expect(exit, w.output()).toEqual({ code: 0, signal: null });
    } finally {
      if (w.proc.exitCode === null) w.proc.kill("SIGKILL");
    }
    // The running job was allowed to finish, and its completion was recorded (not left locked).
    expect((await d.pool.query("select label from worker_test_done where label = 'slow'")).rowCount).toBe(1);
    expect(await jobsLeft()).toEqual({ n: 0, locked: 0 });
    // Every job is logged through pino (JSON lines), the shutdown too.
    expect(w.output()).toMatch(/"msg":"Completed task \d+ \(hubsync_test_sleep/);
    expect(w.output()).toMatch(/"msg":"worker stopped"/);
  });

  it("fails a job that outlives the shutdown timeout, unlocked, so another worker retries it", async () => {
    const w = startWorkerProcess({ HUBSYNC_TASK_DIRECTORY: FIXTURE_TASKS, HUBSYNC_SHUTDOWN_TIMEOUT_MS: "500", HUBSYNC_CRONTAB: join(tmp, "crontab") });
    try {
      await d.pool.query("select hubsync_worker.add_job('hubsync_test_sleep', json_build_object('ms', 30000, 'label', 'endless'))");
      await waitFor("the long job to start", async () => (await jobsLeft()).locked === 1);
      w.proc.kill("SIGTERM");
      const exit = await w.exited;
      expect(exit, w.output()).toEqual({ code: 0, signal: null });
    } finally {
      if (w.proc.exitCode === null) w.proc.kill("SIGKILL");
    }
    const { rows } = await d.pool.query("select attempts, locked_at, last_error from hubsync_worker._private_jobs");
    expect(rows).toEqual([{ attempts: 1, locked_at: null, last_error: expect.any(String) }]);
    await d.pool.query("delete from hubsync_worker._private_jobs");
  });

  it("refuses to start in a database where hubsync is not installed, saying what to do", async () => {
    const empty = await freshDatabase("worker_empty");
    try {
      const w = startWorkerProcess({ DATABASE_URL: empty.url, HUBSYNC_TASK_DIRECTORY: FIXTURE_TASKS });
      const exit = await w.exited;
      expect(exit.code).toBe(1);
      expect(w.output()).toMatch(/hubsync is not installed in this database; run `hubsync install` first/);
    } finally {
      await empty.drop();
    }
  });

  it("refuses to start without HUBSPOT_ACCESS_TOKEN", async () => {
    const w = startWorkerProcess({ HUBSYNC_TASK_DIRECTORY: FIXTURE_TASKS, HUBSPOT_ACCESS_TOKEN: "" });
    expect((await w.exited).code).toBe(1);
    expect(w.output()).toMatch(/HUBSPOT_ACCESS_TOKEN/);
  });

  it("refuses a crontab with a mistake instead of silently running without a schedule", async () => {
    const bad = join(tmp, "bad-crontab");
    await writeFile(bad, "*/5 * * * hubsync_pull_all\n");
    const w = startWorkerProcess({ HUBSYNC_TASK_DIRECTORY: FIXTURE_TASKS, HUBSYNC_CRONTAB: bad });
    expect((await w.exited).code).toBe(1);
    expect(w.output()).toMatch(/crontab .*bad-crontab is not valid/);
  });

  it("loads hubsync's own tasks/ and crontab", async () => {
    const { items } = loadCrontab(DEFAULT_CRONTAB);
    expect(items.map((i) => i.task)).toEqual(expect.arrayContaining(["hubsync_pull_all", "hubsync_pull_archived", "hubsync_reconcile"]));
    // The real task directory loads under Node's type stripping, and a cron task runs from it.
    const w = startWorkerProcess({ HUBSYNC_LOG_LEVEL: "info" });
    try {
      await d.pool.query("select hubsync_worker.add_job('hubsync_pull_all', '{}'::json)");
      await waitFor("hubsync_pull_all to complete", async () => /Completed task \d+ \(hubsync_pull_all/.test(w.output()));
      w.proc.kill("SIGTERM");
      expect((await w.exited).code, w.output()).toBe(0);
    } finally {
      if (w.proc.exitCode === null) w.proc.kill("SIGKILL");
    }
  });
});
