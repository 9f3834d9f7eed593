import type pg from "pg";
import type { SyncContext } from "./context.ts";
import { PausedError } from "./hubspot/errors.ts";
import { newUsage, trackUsage } from "./hubspot/usage.ts";
import { recordError } from "./schema/objects.ts";

export interface RunOutcome {
  records: number;
  details?: Record<string, unknown>;
}

export interface RunSummary extends RunOutcome {
  runId: number;
  requests: number;
  rateLimited: number;
  ms: number;
}

/** How a run ended, as its hubsync.runs row keeps it. */
export interface RunEnd {
  /** Set when the run failed (status 'error'). */
  error?: string | null;
  /** Left as they are when absent. */
  records?: number;
  rateLimited?: number;
  requests: number;
  details: unknown;
}

/**
 * The one writer of hubsync.runs: a row when a run starts (status 'running'), finished with its
 * figures by finishRun. recordRun does both around a pull; the push, which counts its own requests
 * and keeps going after a failed batch, calls them itself.
 */
export async function startRun(db: pg.Pool | pg.PoolClient, objectType: string | null, kind: string, workerId: string | null = null): Promise<number> {
  const { rows } = await db.query<{ id: string }>(`insert into hubsync.runs (object_type, kind, worker_id) values ($1, $2, $3) returning id`, [objectType, kind, workerId]);
  return Number(rows[0]!.id);
}

export async function finishRun(db: pg.Pool | pg.PoolClient, runId: number, end: RunEnd): Promise<void> {
  await db.query(
    `update hubsync.runs
        set status = $2, finished_at = now(), records = coalesce($3, records), requests = $4,
            rate_limited = coalesce($5, rate_limited), error = $6, details = $7
      where id = $1`,
    [runId, end.error != null ? "error" : "ok", end.records ?? null, end.requests, end.rateLimited ?? null, end.error ?? null, JSON.stringify(end.details)],
  );
}

/**
 * Runs one unit of work (a discovery, a pull, an association sweep) as a row of hubsync.runs: records, HubSpot requests and 429s it
 * caused (counted wherever in the call tree they happen), duration, and the error if it failed.
 */
export async function recordRun(
  deps: SyncContext,
  objectType: string | null,
  kind: string,
  work: () => Promise<RunOutcome>,
): Promise<RunSummary> {
  const runId = await startRun(deps.pool, objectType, kind, deps.workerId ?? null);
  const usage = newUsage();
  const started = Date.now();
  const log = deps.log.child({ runId, objectType, kind });
  try {
    const outcome = await trackUsage(usage, work);
    const ms = Date.now() - started;
    await finishRun(deps.pool, runId, {
      records: outcome.records,
      requests: usage.requests,
      rateLimited: usage.rateLimited,
      details: { ...outcome.details, retries: usage.retries, ms },
    });
    log.info({ records: outcome.records, requests: usage.requests, rateLimited: usage.rateLimited, retries: usage.retries, ms, ...outcome.details }, "run finished");
    return { runId, ...outcome, requests: usage.requests, rateLimited: usage.rateLimited, ms };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const ms = Date.now() - started;
    await finishRun(deps.pool, runId, { error: message, requests: usage.requests, rateLimited: usage.rateLimited, details: { retries: usage.retries, ms } }).catch(() => {});
    // A portal-wide pause is shown by hubsync.status itself while it lasts; copied into the
    // object's last_error it would outlive it.
    const portalPause = err instanceof PausedError && err.reason !== "scopes";
    if (objectType && !portalPause) await recordError(deps.pool, objectType, message).catch(() => {});
    // waiting for HubSpot is expected, not a failure of ours: one line, no stack
    if (err instanceof PausedError) log.warn({ reason: err.reason, until: err.until.toISOString(), requests: usage.requests, ms, error: message }, "run paused");
    else log.error({ err, requests: usage.requests, ms }, "run failed");
    throw err;
  }
}
