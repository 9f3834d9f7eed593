import { PausedError } from "../hubspot/errors.ts";
import { newUsage, trackUsage } from "../hubspot/usage.ts";
import { recordError } from "../schema/objects.ts";
import type { SyncDeps } from "./deps.ts";

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

/**
 * Runs one unit of pull work as a row of hubsync.runs: records, HubSpot requests and 429s it
 * caused (counted wherever in the call tree they happen), duration, and the error if it failed.
 */
export async function recordRun(
  deps: SyncDeps,
  objectType: string | null,
  kind: string,
  work: () => Promise<RunOutcome>,
): Promise<RunSummary> {
  const { rows } = await deps.pool.query<{ id: string }>(`insert into hubsync.runs (object_type, kind) values ($1, $2) returning id`, [objectType, kind]);
  const runId = Number(rows[0]!.id);
  const usage = newUsage();
  const started = Date.now();
  const log = deps.log.child({ runId, objectType, kind });
  try {
    const outcome = await trackUsage(usage, work);
    const ms = Date.now() - started;
    await deps.pool.query(
      `update hubsync.runs set status = 'ok', finished_at = now(), records = $2, requests = $3, rate_limited = $4, details = $5 where id = $1`,
      [runId, outcome.records, usage.requests, usage.rateLimited, JSON.stringify({ ...outcome.details, retries: usage.retries, ms })],
    );
    log.info({ records: outcome.records, requests: usage.requests, rateLimited: usage.rateLimited, retries: usage.retries, ms, ...outcome.details }, "run finished");
    return { runId, ...outcome, requests: usage.requests, rateLimited: usage.rateLimited, ms };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const ms = Date.now() - started;
    await deps.pool
      .query(`update hubsync.runs set status = 'error', finished_at = now(), error = $2, requests = $3, rate_limited = $4, details = $5 where id = $1`, [
        runId,
        message,
        usage.requests,
        usage.rateLimited,
        JSON.stringify({ retries: usage.retries, ms }),
      ])
      .catch(() => {});
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
