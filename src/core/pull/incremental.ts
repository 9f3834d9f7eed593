import { z } from "zod";
import type { CrmRecord } from "../hubspot/schemas.ts";
import { readCursor, writeCursor } from "../schema/cursors.ts";
import { findObject, loadObject } from "../schema/objects.ts";
import { inApplyingTransaction } from "../db/transaction.ts";
import type { SyncContext } from "../context.ts";
import { refreshOwners } from "./owners.ts";
import { refreshPipelines } from "./pipelines.ts";
import { recordRun, type RunSummary } from "../runs.ts";
import { loadTarget, type PullTarget } from "./target.ts";
import { addCounts, applyRecords, emptyCounts, type ApplyCounts } from "./upsert.ts";

const IncrementalState = z.object({
  /** Newest last-modified time (epoch ms) seen so far; the next run searches from watermark − lag window. */
  watermark: z.number(),
  /** When the last deep re-scan ran (epoch ms). */
  deepAt: z.number().optional(),
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
/** HubSpot answers 400 to a search body over 3,000 characters. */
const SEARCH_BODY_LIMIT = 3_000;
const DEEP_EVERY_MS = 60 * 60 * 1000;

interface Hit {
  id: string;
  ms: number;
}

/**
 * What each search asks for. When every property name fits in the request body, search returns the
 * full records and a change costs one search per 200 instead of a search plus a batch read per 100;
 * otherwise search gives ids and timestamps and batch read (POST body) fetches the records.
 */
function searchProperties(target: PullTarget): { properties: string[]; full: boolean } {
  const lm = target.lastModifiedProperty;
  const widest = JSON.stringify({
    filterGroups: [{ filters: [
      { propertyName: lm, operator: "EQ", value: String(Number.MAX_SAFE_INTEGER) },
      { propertyName: "hs_object_id", operator: "GT", value: String(Number.MAX_SAFE_INTEGER) },
    ] }],
    sorts: [{ propertyName: "hs_object_id", direction: "ASCENDING" }],
    properties: target.allProperties,
    limit: 200,
    after: "10000",
  });
  return widest.length <= SEARCH_BODY_LIMIT ? { properties: target.allProperties, full: true } : { properties: [lm], full: false };
}

/**
 * One incremental pass over an object: search ascending on last-modified from the watermark minus
 * the lag window; records whose copy is older than what search reports are taken from the search
 * page itself when the property list fits in a search body, else read by batch read. Every page is
 * a fresh query from the newest millisecond seen (so search's 10,000-result cap is never reached and
 * records modified mid-run cannot shift a page); a millisecond holding more than a page is drained
 * with EQ + hs_object_id keyset.
 */
export async function pullIncremental(deps: SyncContext, objectType: string, opts: IncrementalOptions = {}): Promise<RunSummary> {
  const row = await loadObject(deps.pool, objectType);
  if (row.kind !== "crm") {
    return recordRun(deps, objectType, "incremental", async () => {
      const records = row.kind === "owners" ? await refreshOwners(deps) : await refreshPipelines(deps);
      await deps.pool.query(`update hubsync.objects set last_pull_at = now() where object_type = $1`, [objectType]);
      return { records };
    });
  }
  return recordRun(deps, objectType, "incremental", async () => {
    const target = await loadTarget(deps, objectType, { rediscoverAfterMs: opts.rediscoverAfterMs });
    const pageSize = Math.min(opts.pageSize ?? 200, 200);
    const lagWindow = opts.lagWindowMs ?? (await lagWindowFor(deps, objectType));
    const saved = IncrementalState.safeParse(await readCursor(deps.pool, objectType, "incremental"));
    const startWatermark = saved.success ? saved.data.watermark : Date.now() - lagWindow;
    const deep = Date.now() - (saved.success ? (saved.data.deepAt ?? 0) : 0) >= (opts.deepEveryMs ?? DEEP_EVERY_MS);
    const lag = deep ? Math.max(lagWindow, opts.deepLagMs ?? DEEP_LAG_MS) : lagWindow;
    const deepAt = deep ? Date.now() : saved.success ? saved.data.deepAt : undefined;
    const lm = target.lastModifiedProperty;
    const counts = emptyCounts();
    const stats = { searches: 0, hits: 0, fetched: 0, alreadyCurrent: 0, restarts: 0, drains: 0, missing: 0 };
    let watermark = startWatermark;
    let lower = startWatermark - lag;

    const wanted = searchProperties(target);
    const fetcher = createFetcher(deps, target, counts, stats);
    const take = async (records: CrmRecord[]) => {
      const hits = records.map((r) => ({ id: r.id, ms: lastModifiedMs(r, lm) }));
      stats.hits += hits.length;
      for (const h of hits) if (h.ms > watermark) watermark = h.ms;
      await fetcher.add(hits, wanted.full ? records : null);
      return hits;
    };

    // Keyset paging: each page is a new query from the newest millisecond seen so far, never an
    // `after` offset. Records modified while a run pages (our own pushes, users, workflows) move
    // to the end of the order; with offsets that shifted later pages and skipped records.
    for (;;) {
      const page = await deps.hubspot.search(target.apiName, {
        filterGroups: [{ filters: [{ propertyName: lm, operator: "GTE", value: String(lower) }] }],
        sorts: [{ propertyName: lm, direction: "ASCENDING" }],
        properties: wanted.properties,
        limit: pageSize,
      });
      stats.searches++;
      let pageMax = -Infinity;
      for (const h of await take(page.results)) if (h.ms > pageMax) pageMax = h.ms;
      if (page.results.length < pageSize) break;
      stats.restarts++;
      if (pageMax > lower) {
        lower = pageMax; // GTE: the newest millisecond is read again in full
        continue;
      }
      // A whole page of records share one millisecond.
      stats.drains++;
      await drainMillisecond(deps, target, lower, pageSize, wanted.properties, take, stats);
      lower = lower + 1;
    }
    await fetcher.flush();

    await inApplyingTransaction(deps.pool, async (client) => {
      await writeCursor(client, objectType, "incremental", { watermark, ...(deepAt !== undefined ? { deepAt } : {}) });
      await client.query(`update hubsync.objects set last_pull_at = now(), last_error = null where object_type = $1`, [objectType]);
    });
    return { records: counts.inserted + counts.updated, details: { ...counts, ...stats, lagWindowMs: lag, deep, from: new Date(startWatermark - lag).toISOString(), watermark: new Date(watermark).toISOString() } };
  });
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

async function drainMillisecond(
  deps: SyncContext,
  target: PullTarget,
  ms: number,
  pageSize: number,
  properties: string[],
  take: (records: CrmRecord[]) => Promise<Hit[]>,
  stats: { searches: number },
): Promise<void> {
  let lastId: string | null = null;
  for (;;) {
    const filters: Array<{ propertyName: string; operator: string; value: string }> = [
      { propertyName: target.lastModifiedProperty, operator: "EQ", value: String(ms) },
    ];
    if (lastId !== null) filters.push({ propertyName: "hs_object_id", operator: "GT", value: lastId });
    const page = await deps.hubspot.search(target.apiName, {
      filterGroups: [{ filters }],
      sorts: [{ propertyName: "hs_object_id", direction: "ASCENDING" }],
      properties,
      limit: pageSize,
    });
    stats.searches++;
    await take(page.results);
    if (page.results.length < pageSize || !page.nextAfter) return;
    lastId = page.results[page.results.length - 1]!.id;
  }
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
