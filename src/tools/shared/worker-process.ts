import { spawn, type ChildProcess } from "node:child_process";
import { HEAP_SIZE_FLAG } from "../../core/config.ts";
import { createWriteStream, readFileSync } from "node:fs";
import { codePath } from "../../core/package.ts";

const CLI = codePath("src/cli/hubsync");

/**
 * `hubsync worker` in its own process, exactly as an operator runs it, so its peak memory is the
 * worker's alone (the bench process also holds the simulator and its portal). Peak = the kernel's
 * high-water mark of resident memory (VmHWM in /proc/<pid>/status).
 */
export interface WorkerProcess {
  pid: number;
  /** Peak resident memory so far, in bytes (null where /proc is not available). */
  peakRss(): number | null;
  /** Graceful stop (SIGTERM), as a supervisor would; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Resolves when the process ends, however it ends (the soak restarts a worker that died). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Why the process is gone when nobody asked it to go (a crash, Node's heap running out), with the
   * end of its log; null while it runs or after stop() or kill().
   */
  died(): string | null;
  /** Sends a signal without waiting (the soak's SIGKILL of a busy worker). */
  kill(signal: NodeJS.Signals): void;
  /**
   * Resolves once the worker says it started (connected, looking for jobs); rejects if it ends
   * first. A DBA's enable_sync meets a worker already running: what the bench times starts here.
   */
  ready: Promise<void>;
}

export function readPeakRss(pid: number): number | null {
  return readStatusKb(pid, "VmHWM");
}

/** Resident memory now, in bytes (VmRSS), for samples over a run; null where /proc is not available. */
export function readRss(pid: number): number | null {
  return readStatusKb(pid, "VmRSS");
}

function readStatusKb(pid: number, field: string): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export interface WorkerProcessOptions {
  databaseUrl: string;
  hubspotUrl: string;
  token: string;
  logFile: string;
  concurrency?: number;
  /** More `hubsync worker` options (e.g. --webhooks-port). */
  args?: string[];
  /** Append to logFile instead of starting it afresh (a restarted worker keeps its predecessor's log). */
  appendLog?: boolean;
  /** More environment for the worker (e.g. HUBSPOT_WEBHOOK_SECRET); this process's is passed on too. */
  env?: Record<string, string>;
}

/**
 * This process's NODE_OPTIONS without V8 heap sizes. The bench holds the simulator's whole portal
 * and may need a large heap of its own (a million contacts: NODE_OPTIONS=--max-old-space-size=12000);
 * passed on, that limit would also be the worker's, which leaves a limit in NODE_OPTIONS to Node
 * instead of setting its own (HUBSYNC_MAX_HEAP_MB), and what the bench measures is the worker as
 * an operator runs it.
 */
function nodeOptionsWithoutHeapSizes(): string | undefined {
  const kept = (process.env.NODE_OPTIONS ?? "").split(/\s+/).filter((o) => o && !HEAP_SIZE_FLAG.test(o));
  return kept.length > 0 ? kept.join(" ") : undefined;
}

export function startWorkerProcess(opts: WorkerProcessOptions): WorkerProcess {
  const log = createWriteStream(opts.logFile, { flags: opts.appendLog ? "a" : "w" });
  const args = [CLI, "worker", ...(opts.concurrency ? ["--concurrency", String(opts.concurrency)] : []), ...(opts.args ?? [])];
  const child: ChildProcess = spawn(process.execPath, args, {
    env: {
      ...process.env,
      NODE_OPTIONS: nodeOptionsWithoutHeapSizes(),
      DATABASE_URL: opts.databaseUrl,
      HUBSPOT_ACCESS_TOKEN: opts.token,
      HUBSPOT_BASE_URL: opts.hubspotUrl,
      ...opts.env,
      // e.g. --max-old-space-size=160: shows how much of the peak is live data rather than V8 taking its time to collect
      ...(process.env.HUBSYNC_BENCH_WORKER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.HUBSYNC_BENCH_WORKER_NODE_OPTIONS } : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const pid = child.pid;
  if (pid === undefined) throw new Error("bench: could not start `hubsync worker`");
  // VmHWM is gone once the process exits; keep the last reading.
  let peak: number | null = null;
  const sample = () => {
    const v = readPeakRss(pid);
    if (v !== null) peak = Math.max(peak ?? 0, v);
  };
  const timer = setInterval(sample, 500);
  timer.unref();
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal });
    }),
  );
  const exited = ended.then((e) => e.code);
  let asked = false;
  let ending: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  void ended.then((e) => (ending = e));
  const ready = new Promise<void>((resolve, reject) => {
    let tail = "";
    const seen = (chunk: Buffer) => {
      // the line may come in two chunks
      const text = tail + chunk.toString();
      if (text.includes('"msg":"worker started"')) resolve();
      tail = text.slice(-40);
    };
    child.stdout?.on("data", seen);
    child.stderr?.on("data", seen);
    void ended.then((e) => reject(new Error(`\`hubsync worker\` ended before it started (code ${e.code}, signal ${e.signal})`)));
  });
  ready.catch(() => {});
  return {
    pid,
    ready,
    exited: ended,
    died() {
      if (asked || !ending) return null;
      let tail = "";
      try {
        tail = readFileSync(opts.logFile, "utf8").slice(-1500);
      } catch {
        // no log to show
      }
      return `\`hubsync worker\` (pid ${pid}) ended by itself (code ${ending.code}, signal ${ending.signal}); its log ends with:\n${tail}`;
    },
    kill(signal) {
      asked = true;
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    peakRss() {
      if (child.exitCode === null) sample();
      return peak;
    },
    async stop() {
      asked = true;
      sample();
      clearInterval(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const code = await Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 30_000))]);
      if (code === "timeout") {
        child.kill("SIGKILL");
        await exited;
      }
      log.end();
      return code === "timeout" ? null : code;
    },
  };
}
