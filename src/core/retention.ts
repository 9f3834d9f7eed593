import type pg from "pg";
import type { Logger } from "./log.ts";

/**
 * Retention of hubsync's own bookkeeping (sent outbox rows, runs, applied webhook events,
 * conflicts, merges, done refresh requests) after the periods in hubsync.settings, and of the change
 * log (hubsync.changes) after each type's hubsync.objects.keep_changes. Each batch is one call of
 * hubsync._prune_batch (sql/70_housekeeping.sql) in its own short transaction, so the sync's
 * inserts and updates never queue behind a long delete; a backlog (a year of runs on a first
 * upgrade) is worked off batch by batch, and a prune that runs out of time leaves the rest for the
 * next one.
 */

/** In this order: runs first, so the hourly sums they feed are pruned after them. */
export const PRUNED = ["runs", "runs_hourly", "outbox", "webhook_events", "conflicts", "merges", "refresh_requests", "changes"] as const;
export type Pruned = (typeof PRUNED)[number];

export interface PruneResult {
  /** Rows deleted per table (runs: summed into hubsync.runs_hourly first). */
  deleted: Record<Pruned, number>;
  batches: number;
  /** False when the time limit stopped it with rows still past their period. */
  complete: boolean;
}

export async function prune(pool: pg.Pool, log: Logger, opts: { timeLimitMs?: number; pauseMs?: number } = {}): Promise<PruneResult> {
  const deadline = Date.now() + (opts.timeLimitMs ?? 50_000);
  const { rows } = await pool.query<{ value: string | null }>(`select hubsync.setting('retention.batch_rows') as value`);
  const batchRows = Math.max(1, Number(rows[0]?.value ?? 1000) || 1000);
  const deleted = Object.fromEntries(PRUNED.map((t) => [t, 0])) as Record<Pruned, number>;
  let batches = 0;
  let complete = true;
  for (const what of PRUNED) {
    for (;;) {
      if (Date.now() > deadline) {
        complete = false;
        break;
      }
      const r = await pool.query<{ n: number }>(`select hubsync._prune_batch($1, $2) as n`, [what, batchRows]);
      const n = r.rows[0]?.n ?? 0;
      batches++;
      deleted[what] += n;
      // a short batch is not the end: rows the sync holds at that moment are skipped, not counted
      if (n === 0) break;
      // leave the sync's own writes room between batches
      if (opts.pauseMs) await new Promise((resolve) => setTimeout(resolve, opts.pauseMs));
    }
    if (!complete) break;
  }
  const total = PRUNED.reduce((s, t) => s + deleted[t], 0);
  if (total > 0 || !complete) log.info({ deleted, batches, batchRows, complete }, complete ? "pruned old rows" : "pruned old rows; the rest at the next prune");
  return { deleted, batches, complete };
}
