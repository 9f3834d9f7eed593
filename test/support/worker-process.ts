import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { startWorkerProcess, type WorkerProcess } from "../../src/tools/shared/worker-process.ts";
import { waitFor } from "../../src/tools/shared/wait.ts";
import type { SimulatorControl } from "../../src/simulator/control-client.ts";
import { compareWithSimulator, type Comparison, type CompareOptions, type SimulatorSource } from "../../src/tools/verify/compare.ts";

/**
 * `hubsync worker` as child processes, started, SIGKILLed and restarted the way an operator (or a
 * supervisor) does it, all writing to one log file that a failing test prints the end of.
 */
export interface Workers {
  /** Starts another `hubsync worker` process. */
  start(): WorkerProcess;
  /** SIGKILL, and wait until it is gone. */
  kill(worker: WorkerProcess): Promise<void>;
  /** The worker processes still running. */
  alive(): WorkerProcess[];
  /** Stops every worker still running (SIGTERM), as at the end of a test. */
  stopAll(): Promise<void>;
  /** The last lines of the workers' log. */
  logTail(lines?: number): string;
  logFile: string;
}

export function workers(opts: {
  databaseUrl: string;
  sim: { url: string; token: string };
  concurrency?: number;
  /** Extra environment of the worker processes (timeouts, log level, dead-worker check interval). */
  env?: Record<string, string>;
}): Workers {
  const dir = mkdtempSync(join(tmpdir(), "hubsync-faults-"));
  const logFile = join(dir, "worker.log");
  const running = new Set<WorkerProcess>();
  let started = 0;
  return {
    logFile,
    start() {
      // startWorkerProcess passes this process's environment on: the worker's settings go in there.
      Object.assign(process.env, { HUBSYNC_LOG_LEVEL: "info", ...opts.env });
      const w = startWorkerProcess({
        databaseUrl: opts.databaseUrl,
        hubspotUrl: opts.sim.url,
        token: opts.sim.token,
        logFile,
        concurrency: opts.concurrency ?? 3,
        appendLog: started++ > 0,
      });
      running.add(w);
      void w.exited.then(() => running.delete(w));
      return w;
    },
    async kill(w) {
      w.kill("SIGKILL");
      await w.exited;
    },
    alive: () => [...running],
    async stopAll() {
      await Promise.all([...running].map((w) => w.stop()));
    },
    logTail(lines = 40) {
      try {
        return readFileSync(logFile, "utf8").split("\n").slice(-lines).join("\n");
      } catch {
        return "(no worker log)";
      }
    },
  };
}

export interface Converged {
  comparison: Comparison;
  /** From the call until the copy matched. */
  ms: number;
}

/** Polls the record-by-record comparison until it passes; fails with its summary and the workers' log. */
export async function converge(
  pool: pg.Pool,
  source: SimulatorSource,
  objectTypes: string[],
  opts: CompareOptions & {
    timeoutMs?: number;
    workers?: Workers;
    /**
     * A cheap condition (a count in SQL) that must hold too. It is checked before each comparison,
     * which waits until it holds, and again once a comparison passes.
     */
    also?: () => Promise<boolean>;
    /** Called every 5 s while not converged (e.g. queue a pull, as the minute crontab would later). */
    nudge?: () => Promise<unknown>;
  } = {},
): Promise<Converged> {
  const started = Date.now();
  let last: Comparison | null = null;
  let waitingForAlso = false;
  let nudged = Date.now();
  // A comparison of thousands of records takes a second or more of this process's CPU, which the
  // workers it waits for need too: none runs while `also` says the work is not done yet, and the
  // next one starts no sooner than twice its time after it, so comparing takes at most a third of
  // a core while the workers catch up.
  let nextComparison = 0;
  const comparison = await waitFor(
    "the copy to converge",
    async () => {
      if (Date.now() < nextComparison) return undefined;
      waitingForAlso = !!opts.also && !(await opts.also());
      if (!waitingForAlso) {
        const began = Date.now();
        last = await compareWithSimulator(pool, source, objectTypes, opts).catch(() => null);
        nextComparison = Date.now() + 2 * (Date.now() - began);
      }
      if (opts.nudge && (waitingForAlso || !last?.ok) && Date.now() - nudged >= 5_000) {
        nudged = Date.now();
        await opts.nudge().catch(() => {});
      }
      if (waitingForAlso || !last?.ok) return undefined;
      return !opts.also || (await opts.also()) ? last : undefined;
    },
    {
      timeoutMs: opts.timeoutMs ?? 45_000,
      intervalMs: 500,
      describe: () =>
        `${waitingForAlso ? "the test's own condition (also) does not hold; last comparison: " : ""}${(last as Comparison | null)?.summary ?? "no comparison"}\n--- worker log ---\n${opts.workers?.logTail() ?? ""}`,
    },
  );
  return { comparison, ms: Date.now() - started };
}

/** HubSpot requests and 429s the simulator served since the last call (control calls are not counted). */
export async function traffic(control: SimulatorControl): Promise<{ requests: number; rateLimited: number; byStatus: Record<string, number> }> {
  const c = await control.counters();
  await control.resetCounters();
  return { requests: c.total, rateLimited: c.rateLimited, byStatus: c.byStatus };
}

/** Jobs graphile-worker holds locked (by whom, since when): what a killed worker leaves behind. */
export async function lockedJobs(pool: pg.Pool): Promise<Array<{ task: string; locked_by: string }>> {
  const { rows } = await pool.query<{ task: string; locked_by: string }>(
    `select task_identifier as task, locked_by from hubsync_worker.jobs where locked_at is not null order by id`,
  );
  return rows;
}

/** One line per fault with its figures (shown with the test's output when it fails). */
export function report(fault: string, figures: Record<string, unknown>): void {
  console.log(`FAULT ${fault}: ${Object.entries(figures).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ")}`);
}
