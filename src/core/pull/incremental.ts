import { z } from "zod";
import type pg from "pg";
import type { SearchRequest } from "../hubspot/client.ts";
import type { CrmRecord } from "../hubspot/schemas.ts";
import { readCursor, writeCursor } from "../schema/cursors.ts";
import { findObject, loadObject } from "../schema/objects.ts";
import { inApplyingTransaction } from "../db/transaction.ts";
import type { SyncContext } from "../context.ts";
import { refreshOwners } from "./owners.ts";
import { refreshPipelines } from "./pipelines.ts";
import { pullLists } from "../lists/pull.ts";
import { runListPublications } from "../lists/publish.ts";
import { recordRun, type RunSummary } from "../runs.ts";
import { loadTarget, type PullTarget } from "./target.ts";
import { addCounts, applyRecords, emptyCounts, type ApplyCounts } from "./upsert.ts";
import { SEARCH_BODY_LIMIT, searchWidthFor, searchWithWidth } from "./portal-limits.ts";

export const SearchWindow = z.object({
  /** Last-modified bounds (epoch ms, inclusive) the window's searches filter on. */
  from: z.number(),
  to: z.number(),
  /** Every hit with an id up to this one has been applied. */
  afterId: z.string(),
});
export type SearchWindow = z.infer<typeof SearchWindow>;

const IncrementalState = z.object({
  /**
   * Every change up to this time (epoch ms) has been read: the upper bound of the last window read
   * to the end, never a time taken from a hit. The next run searches from watermark − lag window.
   */
  watermark: z.number(),
  /** When the last deep re-scan ran (epoch ms). */
  deepAt: z.number().optional(),
  /** A window a run left part-way (it failed or stopped): the next run finishes it first. */
  window: SearchWindow.optional(),
});

export interface IncrementalOptions {
  /**
   * How far behind the watermark each run searches again. Search is eventually consistent: a record
   * changed at T can show up in results after records changed later. Re-reading ids is cheap (search
   * pages of 200; records we already hold at that timestamp are not fetched again).
   */
  lagWindowMs?: number;
  /**
   * Every `deepEveryMs` a run searches back `deepLagMs` instead (default: the last hour, hourly),
   * like Estuary's delayed stream: a change search indexed later than the lag window still arrives.
   * Records already held are not read again, so this costs one search per 200 changes of the hour.
   */
  deepLagMs?: number;
  deepEveryMs?: number;
  /** Search page size (HubSpot's maximum, 200). */
  pageSize?: number;
  rediscoverAfterMs?: number;
}

/** Default lag window when hubsync.objects.lag_window_ms is not set. */
export const DEFAULT_LAG_WINDOW_MS = 5 * 60 * 1000;
const DEEP_LAG_MS = 60 * 60 * 1000;
const DEEP_EVERY_MS = 60 * 60 * 1000;
/** Pages between checkpoints of a window: what a failed run has to read again at most. */
const CHECKPOINT_PAGES = 25;
/**
 * Empty pages in a row that still point further (`paging.next`) before the run gives up. HubSpot
 * does send empty pages with a cursor; one that never ends would otherwise loop for ever.
 */
const MAX_EMPTY_PAGES = 20;

interface Hit {
  id: string;
  ms: number;
}

/**
 * Whether a search body can carry every property name. When it can (or this portal has shown that
 * its body cap does not count the list), search returns the full records and a change costs one
 * search per 200 instead of a search plus a batch read per 100; otherwise search gives ids and
 * timestamps and batch read (POST body) fetches the records.
 */
function propertiesFit(target: PullTarget): boolean {
  const big = String(Number.MAX_SAFE_INTEGER);
  return JSON.stringify(windowQuery(target.lastModifiedProperty, { from: Number.MAX_SAFE_INTEGER, to: Number.MAX_SAFE_INTEGER, afterId: big }, target.allProperties, 200, "10000")).length <= SEARCH_BODY_LIMIT;
}

/**
 * One page of a window: changes with last-modified in [from, to] and an id above `afterId`, in id
 * order. Ids never change, so this order holds however search misplaces records by time.
 */
function windowQuery(lm: string, w: SearchWindow, properties: string[], limit: number, after?: string): SearchRequest {
  return {
    filterGroups: [{ filters: [
      { propertyName: lm, operator: "GTE", value: String(w.from) },
      { propertyName: lm, operator: "LTE", value: String(w.to) },
      { propertyName: "hs_object_id", operator: "GT", value: w.afterId },
    ] }],
    sorts: [{ propertyName: "hs_object_id", direction: "ASCENDING" }],
    properties,
    limit,
    ...(after !== undefined ? { after } : {}),
  };
}

/**
 * One incremental pass over an object. The run is bounded by its start time: it reads the window
 * [watermark − lag window, start] to the end, then moves the watermark to the start time and no
 * further. Records we already hold at the time search reports are not fetched again; the others
 * come from the search page itself when the property list fits in a search body, else by batch read.
 *
 * Search does not keep its promises about time, so nothing here depends on them:
 * - HubSpot's search can return a record at its old last-modified position carrying its new values
 *   and time, later than its neighbours and later than the query's upper bound. A cursor taken
 *   from the newest time on a page would jump over every change in between. The window is walked
 *   by record id instead (keyset on hs_object_id), and such a hit is applied (it is the record as it
 *   is now) without moving the watermark: the watermark only ever becomes a bound a window was read to.
 * - A page can be shorter than the limit, even empty, and still carry `paging.next`. Only the
 *   absence of `paging.next` ends a window; an empty page follows its cursor.
 * Each page is a new query from the last id seen, so search's 10,000-result cap is never reached and
 * records modified mid-run (they leave the window, their new time is after its bound) shift nothing.
 */
export async function pullIncremental(deps: SyncContext, objectType: string, opts: IncrementalOptions = {}): Promise<RunSummary> {
  const row = await loadObject(deps.pool, objectType);
  if (row.kind !== "crm") {
    return recordRun(deps, objectType, "incremental", async () => {
      if (row.kind === "lists") {
        const r = await pullLists(deps);
        const published = await runListPublications(deps);
        await deps.pool.query(`update hubsync.objects set last_pull_at = now(), last_error = null where object_type = $1`, [objectType]);
        return { records: r.records, details: { ...r.details, published } };
      }
      const records = row.kind === "owners" ? await refreshOwners(deps) : await refreshPipelines(deps);
      await deps.pool.query(`update hubsync.objects set last_pull_at = now() where object_type = $1`, [objectType]);
      return { records };
    });
  }
  return recordRun(deps, objectType, "incremental", async () => {
    const runStart = Date.now();
    const target = await loadTarget(deps, objectType, { rediscoverAfterMs: opts.rediscoverAfterMs });
    const pageSize = Math.min(opts.pageSize ?? 200, 200);
    const lagWindow = opts.lagWindowMs ?? (await lagWindowFor(deps, objectType));
    const saved = IncrementalState.safeParse(await readCursor(deps.pool, objectType, "incremental"));
    const deep = runStart - (saved.success ? (saved.data.deepAt ?? 0) : 0) >= (opts.deepEveryMs ?? DEEP_EVERY_MS);
    const lag = deep ? Math.max(lagWindow, opts.deepLagMs ?? DEEP_LAG_MS) : lagWindow;
    const deepAt = deep ? runStart : saved.success ? saved.data.deepAt : undefined;
    let watermark = saved.success ? saved.data.watermark : runStart - lagWindow;
    const startWatermark = watermark;
    const save = (window: SearchWindow | undefined) =>
      inApplyingTransaction(deps.pool, async (client) => {
        await writeCursor(client, objectType, "incremental", { watermark, ...(deepAt !== undefined ? { deepAt } : {}), ...(window ? { window } : {}) });
        await client.query(`update hubsync.objects set last_pull_at = now(), last_error = null where object_type = $1`, [objectType]);
      });
    const reader = await createWindowReader(deps, target, pageSize, save);
    const { counts, stats } = reader;
    const readWindow = reader.read;
    const checkpoint = async (window: SearchWindow | undefined) => {
      await reader.flush();
      await save(window);
    };

    // A window a failed run left part-way is finished first, with the bounds it had: extending
    // its upper bound would miss records changed since with ids below where it stopped.
    if (saved.success && saved.data.window) {
      await readWindow(saved.data.window);
      watermark = Math.max(watermark, saved.data.window.to);
    }
    const from = watermark - lag;
    if (from <= runStart) {
      await readWindow({ from, to: runStart, afterId: "0" });
      watermark = Math.max(watermark, runStart);
    }
    await checkpoint(undefined);
    return {
      records: counts.inserted + counts.updated,
      details: { ...counts, ...stats, lagWindowMs: lag, deep, from: new Date(startWatermark - lag).toISOString(), watermark: new Date(watermark).toISOString() },
    };
  });
}

/**
 * Reads windows of last-modified time (see windowQuery) to their end, page by page, writing what is
 * missing or older in the table; `checkpoint` is called every few pages with the window as far as
 * it got (everything up to its afterId written), so a failed run resumes there. The incremental
 * pull reads its lag window with it, a backfill with a horizon its span of time.
 */
export async function createWindowReader(deps: SyncContext, target: PullTarget, pageSize: number, checkpoint: (window: SearchWindow) => Promise<void>) {
  const lm = target.lastModifiedProperty;
  const counts = emptyCounts();
  const stats = { searches: 0, hits: 0, fetched: 0, alreadyCurrent: 0, missing: 0, windows: 0, beyondBound: 0, shortPages: 0, emptyPages: 0 };
  // Not known yet for this portal (and too long for the cap): the first page tries the whole list once.
  const width = await searchWidthFor(deps.pool, propertiesFit(target));
  const fetcher = createFetcher(deps, target, counts, stats);
  const searchPage = (window: SearchWindow, after: string | undefined) =>
    searchWithWidth(deps, target.apiName, width, (properties) => windowQuery(lm, window, properties, pageSize, after), target.allProperties, [lm], () => stats.searches++);

  const read = async (window: SearchWindow) => {
    stats.windows++;
    let after: string | undefined;
    let empty = 0;
    for (let pages = 1; ; pages++) {
      const page = await searchPage(window, after);
      stats.searches++;
      const hits = page.results.map((r) => ({ id: r.id, ms: lastModifiedMs(r, lm) }));
      stats.hits += hits.length;
      stats.beyondBound += hits.filter((h) => h.ms > window.to).length;
      await fetcher.add(hits, width.full ? page.results : null);
      if (!page.nextAfter) return;
      if (hits.length < pageSize) stats.shortPages++;
      if (hits.length === 0) {
        stats.emptyPages++;
        if (++empty > MAX_EMPTY_PAGES) {
          throw new Error(`search for ${target.objectType} answered ${empty} empty pages in a row that still point further (after ${page.nextAfter}); the cursor stays where it was and the next run reads the window again`);
        }
        after = page.nextAfter;
        continue;
      }
      empty = 0;
      after = undefined;
      window = { ...window, afterId: hits[hits.length - 1]!.id };
      if (pages % CHECKPOINT_PAGES === 0) {
        await fetcher.flush();
        await checkpoint(window);
      }
    }
  };
  return { counts, stats, read, flush: () => fetcher.flush() };
}

/** The live streams start where a backfill started (`cutoff`); an existing cursor is never moved back. */
export async function startLiveStreams(client: pg.PoolClient, objectType: string, cutoff: string): Promise<void> {
  await client.query(
    `insert into hubsync.cursors (object_type, stream, state) values ($1, 'incremental', $2), ($1, 'archived', $3)
     on conflict do nothing`,
    [objectType, JSON.stringify({ watermark: Date.parse(cutoff) }), JSON.stringify({ since: cutoff })],
  );
}

async function lagWindowFor(deps: SyncContext, objectType: string): Promise<number> {
  return (await findObject(deps.pool, objectType))?.lag_window_ms ?? DEFAULT_LAG_WINDOW_MS;
}

function lastModifiedMs(record: CrmRecord, property: string): number {
  const raw = record.properties[property];
  if (raw) {
    const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
    if (Number.isFinite(ms)) return ms;
  }
  return Date.parse(record.updatedAt);
}

/**
 * Keeps the hits whose stored copy is missing or older than search says: applied at once when search
 * returned full records, else batch-read 100 at a time (HubSpot's batch size), so a run costs about
 * one read per 100 changed records.
 */
function createFetcher(deps: SyncContext, target: PullTarget, counts: ApplyCounts, stats: { fetched: number; alreadyCurrent: number; missing: number }) {
  const pending = new Map<string, number>();
  const flush = async (all: boolean) => {
    while (pending.size >= 100 || (all && pending.size > 0)) {
      const ids = [...pending.keys()].slice(0, 100);
      for (const id of ids) pending.delete(id);
      const read = await deps.hubspot.batchRead(target.apiName, ids, target.allProperties);
      stats.fetched += read.results.length;
      stats.missing += read.missing.length;
      await inApplyingTransaction(deps.pool, async (client) => addCounts(counts, await applyRecords(client, target, read.results)));
    }
  };
  return {
    async add(hits: Hit[], fullRecords: CrmRecord[] | null) {
      if (hits.length === 0) return;
      const { rows } = await deps.pool.query<{ id: string; ms: string | null }>(
        `select id, round(extract(epoch from updated_at) * 1000)::bigint as ms from ${target.table} where id = any($1::text[])`,
        [hits.map((h) => h.id)],
      );
      const stored = new Map(rows.map((r) => [r.id, r.ms === null ? null : Number(r.ms)]));
      const stale = hits.filter((h) => {
        const have = stored.get(h.id);
        const current = have !== undefined && have !== null && have >= h.ms;
        if (current) stats.alreadyCurrent++;
        return !current;
      });
      if (fullRecords) {
        const wanted = new Set(stale.map((h) => h.id));
        const records = fullRecords.filter((r) => wanted.has(r.id));
        stats.fetched += records.length;
        if (records.length > 0) await inApplyingTransaction(deps.pool, async (client) => addCounts(counts, await applyRecords(client, target, records)));
        return;
      }
      for (const h of stale) if (!pending.has(h.id) || pending.get(h.id)! < h.ms) pending.set(h.id, h.ms);
      await flush(false);
    },
    flush: () => flush(true),
  };
}
