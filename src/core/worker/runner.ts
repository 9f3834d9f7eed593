import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { EventEmitter } from "node:events";
import { z } from "zod";
import { parseCrontab, run, type ParsedCronItem, type Runner, type Task, type TaskList, type WorkerEvents, type WorkerPool } from "graphile-worker";
import { createPool } from "../db/pool.ts";
import { WORKER_SCHEMA } from "../db/install.ts";
import { closeWorkerContext, initWorkerContext, setWorkerId } from "./context.ts";
import { pausable } from "./pause.ts";
import { graphileLogger } from "./logger.ts";
import { watchLiveness } from "./liveness.ts";
import { log as rootLog, type Logger } from "../log.ts";
import { enqueue } from "../jobs.ts";
import { CODE_ROOT, PACKAGE_ROOT } from "../package.ts";

// The task files are code (compiled into the package); the crontab is data at the package root.
export const DEFAULT_TASK_DIRECTORY = join(CODE_ROOT, "tasks");
export const DEFAULT_CRONTAB = join(PACKAGE_ROOT, "crontab");
const TASK_EXTENSIONS = new Set([".js", ".cjs", ".mjs", ".ts", ".mts"]);

/** Task files of a flat directory, sorted; type declarations (.d.ts) end in ".ts" but are not code. */
function taskFiles(directory: string): string[] {
  return readdirSync(directory)
    .filter((f) => TASK_EXTENSIONS.has(extname(f)) && !/\.d\.m?ts$/.test(f))
    .sort();
}

export interface WorkerOptions {
  databaseUrl: string;
  /** Jobs other than pushes run at once in this process (default 5: HubSpot's rate limit, not CPU, is the bound). */
  concurrency?: number;
  /** Push jobs run at once, in slots of their own (default HUBSYNC_PUSH_CONCURRENCY, else 2); see startWorker. */
  pushConcurrency?: number;
  /** Task files: this option, else HUBSYNC_TASK_DIRECTORY, else hubsync's tasks/. */
  taskDirectory?: string;
  /** Crontab path: this option, else HUBSYNC_CRONTAB, else the `crontab` file shipped with hubsync. */
  crontabFile?: string;
  /** Stop gracefully on SIGTERM/SIGINT (a second signal stops at once); off when embedded in tests. */
  handleSignals?: boolean;
  /**
   * How long a graceful stop waits for running jobs before failing them so another worker retries
   * them (default 20 s, env HUBSYNC_SHUTDOWN_TIMEOUT_MS): under a supervisor's SIGKILL a running job
   * would instead stay locked for 4 hours. Tasks see helpers.abortSignal fire 5 s into the stop.
   */
  shutdownTimeoutMs?: number;
  log?: Logger;
}

export interface RunningWorker {
  /** The runner of every task but the push (its addJob queues any task). */
  runner: Runner;
  /** Resolves once the worker stopped and everything it opened is closed. */
  done: Promise<void>;
  stop(): Promise<void>;
  /** Resolves (never rejects) when graphile reports its pool unusable, e.g. the database connection was lost mid-job. */
  failed: Promise<Error>;
  /** True when running jobs had to be failed (forced stop): their code may still hold timers. */
  readonly forced: boolean;
}

/** The tasks that get worker slots of their own: short, and someone is waiting for them. */
const PUSH_TASK = "hubsync_push";
const REFRESH_TASK = "hubsync_refresh";

const PushConcurrency = z.coerce.number().int().min(1).max(100);

/** HUBSYNC_PUSH_CONCURRENCY, checked: a typo stops the worker rather than silently meaning 2. */
export function pushConcurrencySetting(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.HUBSYNC_PUSH_CONCURRENCY;
  if (raw === undefined || raw === "") return 2;
  const parsed = PushConcurrency.safeParse(raw);
  if (!parsed.success) throw new Error(`hubsync worker: HUBSYNC_PUSH_CONCURRENCY must be a whole number from 1 to 100, got "${raw}"`);
  return parsed.data;
}

/** Reads and parses the crontab up front, so a typo stops the worker instead of silently disabling cron. */
export function loadCrontab(path: string): { path: string; items: ParsedCronItem[] } {
  if (!existsSync(path)) throw new Error(`hubsync worker: crontab ${path} does not exist (set HUBSYNC_CRONTAB or --crontab)`);
  try {
    return { path, items: parseCrontab(readFileSync(path, "utf8")) };
  } catch (err) {
    throw new Error(`hubsync worker: crontab ${path} is not valid: ${(err as Error).message}`);
  }
}

/** Task identifiers graphile-worker will find in a flat task directory (file name without extension). */
export function taskNames(directory: string): string[] {
  if (!existsSync(directory)) throw new Error(`hubsync worker: task directory ${directory} does not exist`);
  return taskFiles(directory).map((f) => basename(f, extname(f)));
}

/**
 * The task files, loaded as graphile-worker would load the directory, each wrapped so that a HubSpot
 * pause (daily quota, refused token) re-queues the job for the pause's end instead of failing it.
 */
export async function loadTasks(directory: string, getPool: () => Promise<import("pg").Pool>, log: Logger): Promise<TaskList> {
  const list: TaskList = {};
  for (const file of taskFiles(directory)) {
    const mod = (await import(pathToFileURL(join(directory, file)).href)) as { default?: unknown };
    const task = mod.default;
    if (typeof task !== "function") throw new Error(`hubsync worker: ${join(directory, file)} has no default-exported task function`);
    list[basename(file, extname(file))] = pausable(task as Task, getPool, log);
  }
  return list;
}

/**
 * Runs graphile-worker with hubsync's tasks and crontab in the private schema hubsync_worker.
 *
 * Pushes have worker slots of their own: two graphile-worker runners share this process, its pool
 * and its events. One runs every task but hubsync_push and hubsync_refresh with `concurrency` slots
 * (and the crontab); the other runs only those two with `pushConcurrency` slots (a refresh someone
 * asked for goes first there, by its job priority). graphile-worker asks the database
 * only for jobs of the tasks a runner knows, so neither takes the other's jobs, and a push is
 * picked up at once even while backfills and pulls hold every other slot for minutes. Of the ways
 * graphile-worker offers, this one needs nothing from the job rows: a named queue would run the
 * pushes of all types one at a time, and forbidden flags would have every queueing place (SQL
 * triggers, crontab, tasks) set a flag and still share the slots.
 *
 * Shutdown is ours, not graphile's signal handler: graphile re-raises the signal after its
 * graceful stop, killing the process before the pool and the logger are flushed. The batch
 * delays are 0 because with the default (-1) a job finishing during shutdown is reported done
 * but stays locked for 4 hours: graphile-worker does not wait for the deferred DELETE of a
 * completed job, and the pool goes away first. With a delay >= 0 the batches are flushed when the
 * runner stops.
 */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const log = (options.log ?? rootLog).child({ component: "worker" });
  const concurrency = options.concurrency ?? 5;
  const pushConcurrency = options.pushConcurrency ?? pushConcurrencySetting();
  const taskDirectory = resolve(options.taskDirectory ?? process.env.HUBSYNC_TASK_DIRECTORY ?? DEFAULT_TASK_DIRECTORY);
  const crontab = loadCrontab(resolve(options.crontabFile ?? process.env.HUBSYNC_CRONTAB ?? DEFAULT_CRONTAB));
  const tasks = taskNames(taskDirectory);
  const missing = [...new Set(crontab.items.map((i) => i.task))].filter((t) => !tasks.includes(t));
  if (missing.length) log.warn({ crontab: crontab.path, missing }, "crontab names tasks this worker does not have; their jobs wait for a worker that does");

  // Jobs use the pool through getWorkerContext() while graphile holds one connection for LISTEN.
  const pool = createPool(options.databaseUrl, { max: (concurrency + pushConcurrency) * 2 + 3, applicationName: "hubsync worker" });
  try {
    await assertInstalled(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  // A context built earlier in this process (a test that called getWorkerContext()) gives way to
  // the runner's, so tasks and graphile share one pool.
  await closeWorkerContext();
  initWorkerContext({ pool });

  // runner.kill() does nothing once a graceful stop has begun, so the forced stop goes to the
  // worker pools themselves, which graphile only hands out through this event (one per runner).
  const events: WorkerEvents = new EventEmitter();
  const workerPools: WorkerPool[] = [];
  events.on("pool:create", ({ workerPool: p }) => {
    // Runs carry the id of the first pool: the process holds a liveness lock for each of its
    // pools, and they all go when it dies, so any one of them tells a dead worker's runs.
    if (workerPools.length === 0) setWorkerId(p.id);
    workerPools.push(p);
  });
  // graphile gives up on its pool when it cannot record a job's outcome (the database went away)
  // and then waits for jobs that cannot finish either: `failed` tells the caller at once.
  let reportFatal: (err: Error) => void = () => {};
  const failed = new Promise<Error>((resolve) => (reportFatal = resolve));
  events.on("pool:fatalError", ({ error }) => reportFatal(error instanceof Error ? error : new Error(String(error))));
  // Jobs a killed worker left locked would wait 4 hours: release them now, and watch for more.
  const liveness = await watchLiveness({ pool, databaseUrl: options.databaseUrl, events, log });

  // Signals are ours from here on, so one arriving while the runner starts is not lost: it stops
  // the runner as soon as there is one.
  let forced = false;
  const forceStop = async (reason: string) => {
    if (forced) return;
    forced = true;
    log.warn({ reason }, "stopping now: running jobs are failed and will be retried");
    for (const workerPool of workerPools) {
      try {
        const result = await workerPool.forcefulShutdown(reason);
        if (result.forceFailedJobs.length) log.warn({ jobs: result.forceFailedJobs.map((j) => ({ id: j.id, task: j.task_identifier })) }, "jobs failed by the forced stop");
      } catch (err) {
        log.error({ err: String(err) }, "forced stop failed");
      }
    }
  };
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? Number(process.env.HUBSYNC_SHUTDOWN_TIMEOUT_MS ?? 20_000);
  const signals = options.handleSignals ? handleSignals(log, shutdownTimeoutMs, forceStop) : null;

  const { [PUSH_TASK]: pushTask, [REFRESH_TASK]: refreshTask, ...otherTasks } = await loadTasks(taskDirectory, async () => pool, log);
  // a refresh on demand (hubsync.refresh) waits for a DBA's eyes: it shares the pushes' slots, not the backfills'
  const laneTasks: TaskList = { ...(pushTask ? { [PUSH_TASK]: pushTask } : {}), ...(refreshTask ? { [REFRESH_TASK]: refreshTask } : {}) };
  const start = (taskList: TaskList, slots: number, cron: ParsedCronItem[]) =>
    run({
      events,
      pgPool: pool,
      schema: WORKER_SCHEMA,
      concurrency: slots,
      taskList,
      parsedCronItems: cron,
      noHandleSignals: true,
      logger: graphileLogger(log),
      preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
    });
  const runners: Runner[] = [];
  try {
    // the crontab (pushes' sweep included) is queued by the main runner; queueing needs no task
    runners.push(await start(otherTasks, concurrency, crontab.items));
    if (Object.keys(laneTasks).length) runners.push(await start(laneTasks, pushConcurrency, []));
  } catch (err) {
    await Promise.all(runners.map((r) => r.stop().catch(() => {})));
    signals?.remove();
    await liveness.stop();
    await closeWorkerContext();
    await pool.end();
    throw err;
  }
  const runner = runners[0]!;
  // One runner stopping (a graceful stop, or its pool lost the database) stops the other too.
  const stopAll = (reason?: string) => Promise.all(runners.map((r) => r.stop(reason).catch(() => {}))).then(() => undefined);
  const both: Pick<Runner, "stop"> = { stop: stopAll };
  // runner.promise resolves even when the pool stopped on an error (graphile could not record a
  // job's outcome: the database went away); the pool's own promise carries that error.
  const done = Promise.all(runners.map((r) => r.promise.finally(() => void stopAll())))
    .then(() => (forced ? undefined : Promise.all(workerPools.map((p) => p.promise))))
    .then(() => undefined)
    .finally(async () => {
      signals?.remove();
      await liveness.stop();
      await closeWorkerContext();
      await pool.end();
      log.info("worker stopped");
    });
  signals?.attach(both);
  log.info({ concurrency, pushConcurrency: pushTask ? pushConcurrency : 0, tasks, crontab: crontab.path, cron: crontab.items.map((i) => i.identifier) }, "worker started");

  events.on("job:failed", ({ job, error }) => {
    log.error({ task: job.task_identifier, jobId: job.id, attempts: job.attempts, err: String(error) }, "job failed permanently");
  });

  // The push task (tasks/hubsync_push.ts), started with {}, sweeps every object type with changes due: after a crash the
  // dead worker's push job stays locked for hours, so a new worker sends the leftovers itself.
  if (pushTask) {
    await enqueue(runner.addJob, "hubsync_push").catch((err: unknown) => {
      log.warn({ err: String(err) }, "could not queue the startup push sweep");
    });
  }

  return {
    runner,
    done,
    failed,
    stop: async () => {
      await stopAll();
      await done;
    },
    get forced() {
      return forced;
    },
  };
}

async function assertInstalled(pool: ReturnType<typeof createPool>): Promise<void> {
  const { rows } = await pool.query<{ control: boolean; worker: boolean }>(
    `select to_regclass('hubsync.objects') is not null as control, to_regclass('${WORKER_SCHEMA}.jobs') is not null as worker`,
  );
  if (!rows[0]?.control || !rows[0]?.worker) {
    throw new Error("hubsync worker: hubsync is not installed in this database; run `hubsync install` first");
  }
}

function handleSignals(log: Logger, shutdownTimeoutMs: number, kill: (reason: string) => Promise<void>) {
  let runner: Pick<Runner, "stop"> | null = null;
  let received: NodeJS.Signals | null = null;
  const stop = (signal: NodeJS.Signals, r: Pick<Runner, "stop">) => {
    log.info({ signal, shutdownTimeoutMs }, "stopping: no new jobs; waiting for running ones (send the signal again to stop now)");
    r.stop(`received ${signal}`).catch((err: unknown) => log.error({ err: String(err) }, "graceful stop failed"));
    setTimeout(() => void kill(`running jobs still busy ${shutdownTimeoutMs} ms after ${signal}`), shutdownTimeoutMs).unref();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) {
      void kill(`received ${signal} twice`);
      return;
    }
    received = signal;
    if (runner) stop(signal, runner);
    else log.info({ signal }, "stopping as soon as the worker has started");
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return {
    attach(r: Pick<Runner, "stop">) {
      runner = r;
      if (received) stop(received, r);
    },
    remove() {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    },
  };
}
