import { HubSpotError, MissingScopesError, PausedError } from "../hubspot/errors.ts";
import { nowOf, type SyncContext } from "../context.ts";
import { asWork, backgroundMayRun, readDailyState, sweepInterval } from "../daily-quota.ts";
import { readCursor, writeCursor } from "../schema/cursors.ts";
import { recordRun, type RunSummary } from "../runs.ts";
import { quoteIdent } from "../schema/naming.ts";
import { ensureAssociationTables, type AssociationPair } from "./pairs.ts";
import { SweepStopped, syncPair } from "./sync.ts";
import { catchUpPair, planPairFill } from "./embedded.ts";
import { markRefreshed } from "./refresh.ts";

export interface SweepOptions {
  /** Only the pairs with this object type at one end. */
  objectType?: string;
  /** 'backfill' (first fill after an object's backfill) or 'sweep' (the periodic re-read); recorded in runs. */
  kind?: "backfill" | "sweep";
  signal?: AbortSignal;
  /**
   * A pair that had no associations at its last sweep, or that HubSpot refused to read (a 4xx: the
   * two types cannot be associated), rests this long before sweeps read it again (default 1 h; 0 =
   * read every pair every sweep). Most pairs of a portal are empty (tickets↔line items,
   * contact↔contact…) and each costs about ceil(ids/1,000) calls per sweep all the same; a first
   * association in such a pair shows at the next read, or at once when either record changes
   * (the refresh after the pull). Backfills read every pair.
   */
  restMs?: number;
}

export const REST_MS = 60 * 60 * 1000;

export interface PairOutcome {
  table: string;
  run?: RunSummary;
  /** A failure that fails the job (retried): 5xx, network, database. */
  error?: string;
  /** HubSpot refused the pair (4xx): recorded on its row, the pair rests, the job does not fail. */
  refused?: string;
}

/** Both ends backfilled: before that the local tables do not yet list the ids to read. */
function ready(pair: AssociationPair): boolean {
  return pair.a.phase === "live" && pair.b.phase === "live";
}

/**
 * Creates any missing association tables, then re-reads every pair whose two ends are live: the
 * ids of the end with fewer local records, up to 1,000 per batch read, each read diffed against the
 * table in one transaction (new pairs in, gone pairs out, changed labels updated). This is what
 * catches association-only changes, which never bump either record's last-modified date. One
 * pair's failure is recorded on its row of hubsync.association_pairs and does not stop the others;
 * the call throws at the end if any failed for a reason a retry may cure. When the worker stops
 * (signal), it ends between chunks.
 */
export async function sweepAssociations(deps: SyncContext, opts: SweepOptions = {}): Promise<PairOutcome[]> {
  const kind = opts.kind ?? "sweep";
  const restMs = opts.restMs ?? REST_MS;
  const startedAt = await dbNow(deps);
  const pairs = (await ensureAssociationTables(deps.pool, deps.log, opts.objectType)).filter(ready);
  const resting = kind === "sweep" && restMs > 0 ? await restingPairs(deps) : new Set<string>();
  const filledAt = kind === "backfill" ? await filledPairs(deps) : new Map<string, Date>();
  const outcomes: PairOutcome[] = [];
  let stopped = false;
  for (const pair of pairs) {
    if (resting.has(pair.table)) continue;
    if (opts.signal?.aborted) {
      stopped = true;
      break;
    }
    try {
      // a fill after a backfill: what the backfills' list pages embedded is not read again
      const fill = kind === "backfill" ? await planPairFill(deps.pool, pair, filledAt.get(pair.table) ?? null) : null;
      if (fill?.skip) continue;
      const run = await recordRun(deps, pair.table, "associations", async () => {
        const r = fill?.catchUp ? await catchUpPair(deps, pair, fill.catchUp, opts.signal) : await syncPair(deps, pair, { signal: opts.signal });
        const changes = r.inserted + r.updated + r.deleted;
        await deps.pool.query(
          `update hubsync.association_pairs
              set read_side = coalesce($2, read_side), rows = (select count(*) from hubspot.${quoteIdent(pair.table)}),
                  last_sweep_at = now(), last_sweep_changes = $3,
                  backfilled_at = case when $4 or backfilled_at is null then now() else backfilled_at end,
                  last_error = null, last_error_at = null, rest_until = null
            where table_name = $1`,
          [pair.table, r.side, changes, kind === "backfill"],
        );
        await deps.pool.query(
          `update hubsync.association_pairs set rest_until = now() + make_interval(secs => $2 / 1000.0) where table_name = $1 and rows = 0 and $2 > 0`,
          [pair.table, restMs],
        );
        return { records: changes, details: { kind, ...r, ...(fill?.catchUp ? { embedded: true } : {}) } };
      });
      await deps.pool.query(`update hubsync.association_pairs set last_sweep_requests = $2 where table_name = $1`, [pair.table, run.requests]);
      outcomes.push({ table: pair.table, run });
    } catch (err) {
      if (err instanceof SweepStopped) {
        stopped = true;
        break;
      }
      // a portal-wide pause (daily quota, refused token) stops the whole sweep; the job comes back after it
      if (err instanceof PausedError && err.reason !== "scopes") throw err;
      const message = err instanceof Error ? err.message : String(err);
      const refused = (err instanceof HubSpotError && err.status >= 400 && err.status < 500 && err.status !== 429) || err instanceof MissingScopesError;
      await deps.pool.query(
        `update hubsync.association_pairs
            set last_error = $2, last_error_at = now(),
                rest_until = case when $3 then now() + make_interval(secs => $4 / 1000.0) else rest_until end
          where table_name = $1`,
        [pair.table, message, refused, restMs > 0 ? restMs : REST_MS],
      );
      if (refused) deps.log.warn({ table: pair.table, error: message }, "HubSpot refused to read this association pair; it rests until the next try");
      outcomes.push(refused ? { table: pair.table, refused: message } : { table: pair.table, error: message });
    }
  }
  // A full re-read of all of a type's pairs covers whatever its records changed in the meantime.
  const covered = opts.objectType ? [opts.objectType] : [...new Set(pairs.flatMap((p) => [p.a.objectType, p.b.objectType]))];
  if (!stopped) for (const type of covered) await markRefreshed(deps, type, startedAt);
  const failed = outcomes.filter((o) => o.error);
  if (failed.length) throw new Error(`association ${kind}: ${failed.map((f) => `${f.table}: ${f.error}`).join("; ")}`);
  return outcomes;
}

/** Where the crontab's sweep keeps when it last ran (the context's clock), in hubsync.cursors. */
const SWEEP_CURSOR = ["*", "associations:sweep"] as const;

/**
 * The association sweep as background work. When the crontab asks (`fromCron`), only once the
 * daily-quota policy says it is due (its interval stretches as the day's quota is spent faster
 * than the day passes; src/core/daily-quota.ts); a job queued by hand sweeps now. Returns null
 * when it did not run.
 */
export async function scheduledSweep(deps: SyncContext, opts: Omit<SweepOptions, "kind"> & { fromCron: boolean }): Promise<PairOutcome[] | null> {
  const now = nowOf(deps);
  const day = await readDailyState(deps.pool);
  if (!backgroundMayRun(day, now)) return null;
  const last = (await readCursor<{ sweptAt?: string }>(deps.pool, ...SWEEP_CURSOR))?.sweptAt;
  // a sweep lasts a while and the crontab ticks on the minute: a minute's slack keeps the base interval
  if (opts.fromCron && last && now.getTime() - Date.parse(last) < sweepInterval({ day, now }) - 60_000) return null;
  const outcomes = await asWork("sweep", () => sweepAssociations(deps, { ...opts, kind: "sweep" }));
  await writeCursor(deps.pool, ...SWEEP_CURSOR, { sweptAt: now.toISOString() });
  return outcomes;
}

/** When each pair was last filled, for those that were. */
async function filledPairs(deps: SyncContext): Promise<Map<string, Date>> {
  const { rows } = await deps.pool.query<{ table_name: string; backfilled_at: Date }>(`select table_name, backfilled_at from hubsync.association_pairs where backfilled_at is not null`);
  return new Map(rows.map((r) => [r.table_name, r.backfilled_at]));
}

/** Pairs a sweep leaves alone for now (empty at their last sweep, or refused by HubSpot). */
async function restingPairs(deps: SyncContext): Promise<Set<string>> {
  const { rows } = await deps.pool.query<{ table_name: string }>(`select table_name from hubsync.association_pairs where rest_until > now()`);
  return new Set(rows.map((r) => r.table_name));
}

async function dbNow(deps: SyncContext): Promise<string> {
  const { rows } = await deps.pool.query<{ now: Date }>(`select now() as now`);
  return rows[0]!.now.toISOString();
}
