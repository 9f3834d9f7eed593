import type { SyncDeps } from "../pull/deps.ts";
import { recordRun, type RunSummary } from "../pull/runs.ts";
import { quoteIdent } from "../schema/naming.ts";
import { ensureAssociationTables, type AssociationPair } from "./pairs.ts";
import { SweepStopped, syncPair } from "./sync.ts";
import { markRefreshed } from "./refresh.ts";

export interface SweepOptions {
  /** Only the pairs with this object type at one end. */
  objectType?: string;
  /** 'backfill' (first fill after an object's backfill) or 'sweep' (the periodic re-read); recorded in runs. */
  kind?: "backfill" | "sweep";
  signal?: AbortSignal;
  /**
   * A pair that had no associations at its last sweep is re-read at most this often (default 1 h;
   * 0 = every sweep). Most pairs of a portal are empty (tickets↔line items, contact↔contact…) and
   * each costs ceil(ids/1,000) calls per sweep all the same; a first association in such a pair
   * shows at the next full read, or at once when either record changes (refresh after the pull).
   */
  emptyPairEveryMs?: number;
}

export const EMPTY_PAIR_EVERY_MS = 60 * 60 * 1000;

export interface PairOutcome {
  table: string;
  run?: RunSummary;
  error?: string;
}

/** Both ends backfilled: before that the local tables do not yet list the ids to read. */
function ready(pair: AssociationPair): boolean {
  return pair.a.phase === "live" && pair.b.phase === "live";
}

/**
 * Creates any missing association tables, then re-reads every pair whose two ends are live: the
 * ids of the end with fewer local records, 1,000 per v4 batch read, each chunk diffed against the
 * table in one transaction (new pairs in, gone pairs out, changed labels updated). This is what
 * catches association-only changes, which never bump either record's last-modified date. One
 * pair's failure is recorded on its row of hubsync.association_pairs and does not stop the others;
 * the call throws at the end if any failed. When the worker stops (signal), it ends between chunks.
 */
export async function sweepAssociations(deps: SyncDeps, opts: SweepOptions = {}): Promise<PairOutcome[]> {
  const kind = opts.kind ?? "sweep";
  const startedAt = await dbNow(deps);
  const pairs = (await ensureAssociationTables(deps.pool, deps.log, opts.objectType)).filter(ready);
  const resting = kind === "sweep" ? await restingPairs(deps, opts.emptyPairEveryMs ?? EMPTY_PAIR_EVERY_MS) : new Set<string>();
  const outcomes: PairOutcome[] = [];
  let stopped = false;
  for (const pair of pairs) {
    if (resting.has(pair.table)) continue;
    if (opts.signal?.aborted) {
      stopped = true;
      break;
    }
    try {
      const run = await recordRun(deps, pair.table, "associations", async () => {
        const r = await syncPair(deps, pair, { signal: opts.signal });
        const changes = r.inserted + r.updated + r.deleted;
        await deps.pool.query(
          `update hubsync.association_pairs
              set read_side = $2, rows = (select count(*) from hubspot.${quoteIdent(pair.table)}),
                  last_sweep_at = now(), last_sweep_changes = $3,
                  backfilled_at = case when $4 or backfilled_at is null then now() else backfilled_at end,
                  last_error = null, last_error_at = null
            where table_name = $1`,
          [pair.table, r.side, changes, kind === "backfill"],
        );
        return { records: changes, details: { kind, ...r } };
      });
      await deps.pool.query(`update hubsync.association_pairs set last_sweep_requests = $2 where table_name = $1`, [pair.table, run.requests]);
      outcomes.push({ table: pair.table, run });
    } catch (err) {
      if (err instanceof SweepStopped) {
        stopped = true;
        break;
      }
      const message = err instanceof Error ? err.message : String(err);
      await deps.pool.query(`update hubsync.association_pairs set last_error = $2, last_error_at = now() where table_name = $1`, [pair.table, message]);
      outcomes.push({ table: pair.table, error: message });
    }
  }
  // A full re-read of all of a type's pairs covers whatever its records changed in the meantime.
  const covered = opts.objectType ? [opts.objectType] : [...new Set(pairs.flatMap((p) => [p.a.objectType, p.b.objectType]))];
  if (!stopped) for (const type of covered) await markRefreshed(deps, type, startedAt);
  const failed = outcomes.filter((o) => o.error);
  if (failed.length) throw new Error(`association ${kind}: ${failed.map((f) => `${f.table}: ${f.error}`).join("; ")}`);
  return outcomes;
}

/** Backfilled pairs that were empty at their last sweep, swept less than `everyMs` ago. */
async function restingPairs(deps: SyncDeps, everyMs: number): Promise<Set<string>> {
  if (everyMs <= 0) return new Set();
  const { rows } = await deps.pool.query<{ table_name: string }>(
    `select table_name from hubsync.association_pairs
      where backfilled_at is not null and rows = 0 and last_error is null
        and last_sweep_at > now() - make_interval(secs => $1 / 1000.0)`,
    [everyMs],
  );
  return new Set(rows.map((r) => r.table_name));
}

async function dbNow(deps: SyncDeps): Promise<string> {
  const { rows } = await deps.pool.query<{ now: Date }>(`select now() as now`);
  return rows[0]!.now.toISOString();
}
