import pg from "pg";
import { log as rootLog } from "../log.ts";
import { startWorker, type RunningWorker, type WorkerOptions } from "./runner.ts";

/**
 * What `hubsync worker` does about PostgreSQL going away (a restart, a failover, maintenance).
 * - Mid-run, graphile-worker gives up on its pool as soon as it cannot record a job's outcome
 *   (its batch retry stops at the first failure) and then hangs on jobs that cannot finish. The
 *   worker then exits with EXIT_DATABASE_LOST at once, for its supervisor (systemd
 *   `Restart=always`, a container's restart policy) to start it again; the jobs it held are
 *   released by the next worker's liveness check (src/core/worker/liveness.ts) and run again.
 *   A restart with no job finishing at that moment needs nothing: connections are re-made.
 * - At start, with HUBSYNC_DATABASE_WAIT_MS set, a database that refuses connections (still
 *   restarting) is waited for that long, so a supervisor's quick restarts do not crash-loop into
 *   its start limit. Unset (0), a refused connection stops the worker at once: it is more often a
 *   wrong DATABASE_URL than a restart. An error from a database that answers (not installed, bad
 *   password) always stops it at once.
 */

/** EX_TEMPFAIL: try again later. */
export const EXIT_DATABASE_LOST = 75;

const CONNECTION_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006"]);
const CONNECTION_MESSAGES = /connection terminated|not queryable|terminating connection|server closed the connection|the database system is (starting up|shutting down)/i;

/** True when the error (or one it wraps) says the database connection was lost or refused. */
export function isConnectionLoss(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== "object" || depth > 4) return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.code === "string" && CONNECTION_CODES.has(e.code)) return true;
  if (typeof e.message === "string" && CONNECTION_MESSAGES.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isConnectionLoss(x, depth + 1))) return true;
  return isConnectionLoss(e.cause, depth + 1);
}

/** startWorker, after waiting for a database that refuses connections (still starting up). */
export async function startWorkerWhenDatabaseAnswers(options: WorkerOptions & { waitMs?: number }): Promise<RunningWorker> {
  const log = (options.log ?? rootLog).child({ component: "worker" });
  const deadline = Date.now() + (options.waitMs ?? Number(process.env.HUBSYNC_DATABASE_WAIT_MS ?? 0));
  let delay = 250;
  for (let attempt = 1; ; attempt++) {
    const probe = new pg.Client({ connectionString: options.databaseUrl, application_name: "hubsync worker", connectionTimeoutMillis: 5_000 });
    probe.on("error", () => {});
    try {
      await probe.connect();
      await probe.query("select 1");
      break;
    } catch (err) {
      if (!isConnectionLoss(err) || Date.now() + delay > deadline) throw err;
      if (attempt === 1 || attempt % 10 === 0) log.warn({ attempt, err: err instanceof Error ? err.message : String(err) }, "PostgreSQL does not answer yet; waiting");
    } finally {
      await probe.end().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(5_000, delay * 2);
  }
  return startWorker(options);
}
