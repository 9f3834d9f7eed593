import { log } from "../../core/log.ts";
import { startWorkerProcess, type WorkerProcess, type WorkerProcessOptions } from "../shared/worker-process.ts";

/**
 * `hubsync worker` as a supervisor (systemd, a container runtime) keeps it: in its own process,
 * started again a second after it dies, however it died. The soak counts the deaths, and may cause
 * some itself (SIGKILL mid-job) to show that a restart loses nothing.
 */
export interface WorkerDeath {
  at: number;
  code: number | null;
  signal: string | null;
  /** The soak killed it on purpose. */
  killed: boolean;
}

export interface SupervisedWorker {
  /** Times the worker was started again after it died. */
  restarts(): number;
  deaths(): WorkerDeath[];
  /** SIGKILL now (no graceful shutdown: jobs stay locked, pushes may be mid-call); the supervisor restarts it. */
  kill(): void;
  /** Graceful stop, no restart; resolves with the last exit code. */
  stop(): Promise<number | null>;
}

export interface SuperviseOptions extends Omit<WorkerProcessOptions, "appendLog"> {
  restartDelayMs?: number;
  /** Told about each death (progress lines). */
  onDeath?: (d: WorkerDeath) => void;
}

export function superviseWorker(opts: SuperviseOptions): SupervisedWorker {
  const deaths: WorkerDeath[] = [];
  let restarts = 0;
  let stopping = false;
  let killing = false;
  let current: WorkerProcess;
  let restartTimer: NodeJS.Timeout | null = null;
  let alive = false;

  const start = (append: boolean) => {
    const w = startWorkerProcess({ ...opts, appendLog: append });
    current = w;
    alive = true;
    void w.exited.then(({ code, signal }) => {
      alive = false;
      if (stopping || current !== w) return;
      const d: WorkerDeath = { at: Date.now(), code, signal, killed: killing };
      killing = false;
      deaths.push(d);
      log.warn({ code, signal, killed: d.killed }, "soak: the worker died; restarting it");
      opts.onDeath?.(d);
      restartTimer = setTimeout(() => {
        restartTimer = null;
        if (stopping) return;
        restarts++;
        start(true);
      }, opts.restartDelayMs ?? 1_000);
    });
  };
  start(false);

  return {
    restarts: () => restarts,
    deaths: () => [...deaths],
    kill() {
      if (!alive) return;
      killing = true;
      current.kill("SIGKILL");
    },
    async stop() {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      return current.stop();
    },
  };
}
