import type pg from "pg";
import { z } from "zod";
import type { SyncContext } from "../context.ts";
import { inTransaction } from "../db/transaction.ts";
import type { CrmRecord } from "../hubspot/schemas.ts";
import { loadTarget, type PullTarget } from "../pull/target.ts";
import { recordRun, type RunSummary } from "../runs.ts";
import { deleteCursor, readCursor, writeCursor } from "../schema/cursors.ts";
import { ensurePipelineTables } from "../schema/fixed-tables.ts";

/**
 * Property history (hubsync.track_history, sql/80_history.sql). The hubsync_history task of a type:
 * 1. reads the whole history of properties tracked since the last run, paging through every record
 *    with propertiesWithHistory (resumable: the cursor moves with each page written);
 * 2. reads again, with batch reads of 100, the records the sync changed since (hubsync.history_queue,
 *    filled by the change-log trigger), so versions between two pulls are kept: one call per 100
 *    changed records, whatever the number of tracked properties;
 * 3. makes hubspot.deal_stage_history / ticket_stage_history once their stage property is tracked.
 */

/**
 * HubSpot's list endpoint serves fewer records per page when propertiesWithHistory is asked for
 * ("Usage of this parameter will reduce the maximum number of objects that can be read by a single
 * request"); 50 is the page size it accepts with history.
 */
export const HISTORY_LIST_PAGE = 50;
/** Batch read's size; its spec puts no smaller limit on reads that carry history. */
const HISTORY_BATCH_READ = 100;

const HistoryCursor = z.object({
  /** The properties whose whole history this pass reads. */
  properties: z.array(z.string()),
  /** The list cursor of the next page (null: from the start). */
  after: z.string().nullable(),
  startedAt: z.string(),
});

export interface HistoryOutcome {
  /** Versions written (new or changed). */
  versions: number;
  /** HubSpot calls made. */
  calls: number;
  /** Records read again after a change. */
  reread: number;
  /** Properties whose first read finished in this run. */
  backfilled: string[];
}

export async function runHistory(deps: SyncContext, objectType: string): Promise<RunSummary> {
  return recordRun(deps, objectType, "history", async () => {
    const out: HistoryOutcome = { versions: 0, calls: 0, reread: 0, backfilled: [] };
    const tracked = await trackedProperties(deps.pool, objectType);
    if (tracked.length === 0) return { records: 0, details: { ...out } };
    const target = await loadTarget(deps, objectType);
    const pending = tracked.filter((p) => !p.backfilled).map((p) => p.name);
    if (pending.length) await readWholeHistory(deps, target, pending, out);
    await rereadChanged(deps, target, tracked.map((p) => p.name), out);
    if (tracked.some((p) => p.name === "dealstage" || p.name === "hs_pipeline_stage")) {
      await ensurePipelineTables(deps.pool);
      await deps.pool.query(`select hubsync._ensure_stage_history($1)`, [objectType]);
    }
    return { records: out.versions, details: { ...out } };
  });
}

async function trackedProperties(pool: pg.Pool, objectType: string): Promise<Array<{ name: string; backfilled: boolean }>> {
  const { rows } = await pool.query<{ name: string; backfilled: boolean }>(
    `select property_name as name, backfilled_at is not null as backfilled from hubsync.history_properties where object_type = $1 order by property_name`,
    [objectType],
  );
  return rows;
}

/** Every record's whole history of `properties`, a list page at a time; each page and the cursor in one transaction. */
async function readWholeHistory(deps: SyncContext, target: PullTarget, properties: string[], out: HistoryOutcome): Promise<void> {
  const saved = HistoryCursor.safeParse(await readCursor(deps.pool, target.objectType, "history"));
  // a pass left part-way for the same properties goes on; a new property list starts over
  const same = saved.success && saved.data.properties.length === properties.length && saved.data.properties.every((p) => properties.includes(p));
  let cursor = same && saved.success ? saved.data : { properties, after: null, startedAt: new Date().toISOString() };
  for (;;) {
    const readAt = await dbNow(deps.pool);
    const page = await deps.hubspot.listPage(target.apiName, { after: cursor.after, limit: HISTORY_LIST_PAGE, properties: ["hs_object_id"], propertiesWithHistory: properties });
    out.calls++;
    cursor = { ...cursor, after: page.nextAfter };
    await inTransaction(deps.pool, async (client) => {
      out.versions += await writeVersions(client, target.objectType, page.results);
      // read in full just now: a re-read queued before this page was read has nothing more to find
      await client.query(`delete from hubsync.history_queue where object_type = $1 and record_id = any($2::text[]) and queued_at < $3`, [
        target.objectType,
        page.results.map((r) => r.id),
        readAt,
      ]);
      await countCalls(client, target.objectType, 1);
      if (page.nextAfter) {
        await writeCursor(client, target.objectType, "history", cursor);
      } else {
        await deleteCursor(client, target.objectType, "history");
        await client.query(`update hubsync.history_properties set backfilled_at = now() where object_type = $1 and property_name = any($2::text[])`, [
          target.objectType,
          properties,
        ]);
      }
    });
    if (!page.nextAfter) break;
  }
  out.backfilled.push(...properties);
}

/** The records queued since their last read, 100 per batch read. */
async function rereadChanged(deps: SyncContext, target: PullTarget, properties: string[], out: HistoryOutcome): Promise<void> {
  for (;;) {
    // queued_at as text: a JS Date would drop its microseconds and the row would never match below
    const { rows } = await deps.pool.query<{ record_id: string; queued_at: string }>(
      `select record_id, queued_at::text as queued_at from hubsync.history_queue where object_type = $1 order by queued_at, record_id limit ${HISTORY_BATCH_READ}`,
      [target.objectType],
    );
    if (rows.length === 0) return;
    const read = await deps.hubspot.batchRead(target.apiName, rows.map((r) => r.record_id), ["hs_object_id"], { propertiesWithHistory: properties });
    out.calls++;
    out.reread += read.results.length;
    await inTransaction(deps.pool, async (client) => {
      out.versions += await writeVersions(client, target.objectType, read.results);
      // a record queued again while it was being read stays queued (its newer change may be missing)
      await client.query(
        `delete from hubsync.history_queue q using unnest($2::text[], $3::timestamptz[]) as x(record_id, queued_at)
          where q.object_type = $1 and q.record_id = x.record_id and q.queued_at <= x.queued_at`,
        [target.objectType, rows.map((r) => r.record_id), rows.map((r) => r.queued_at)],
      );
      await countCalls(client, target.objectType, 1);
    });
  }
}

async function writeVersions(client: pg.PoolClient, objectType: string, records: CrmRecord[]): Promise<number> {
  const versions: Array<Record<string, unknown>> = [];
  for (const r of records) {
    for (const [property, list] of Object.entries(r.propertiesWithHistory ?? {})) {
      for (const v of list) {
        versions.push({
          record_id: r.id,
          property,
          value: v.value,
          valid_from: v.timestamp,
          source_type: v.sourceType ?? null,
          source_id: v.sourceId ?? null,
          updated_by_user_id: v.updatedByUserId ?? null,
          ord: versions.length,
        });
      }
    }
  }
  if (versions.length === 0) return 0;
  const { rows } = await client.query<{ n: number }>(`select hubsync._write_history($1, $2::jsonb) as n`, [objectType, JSON.stringify(versions)]);
  return rows[0]?.n ?? 0;
}

async function countCalls(client: pg.PoolClient, objectType: string, calls: number): Promise<void> {
  await client.query(`update hubsync.objects set history_calls = history_calls + $2 where object_type = $1`, [objectType, calls]);
}

async function dbNow(pool: pg.Pool): Promise<Date> {
  return (await pool.query<{ at: Date }>(`select clock_timestamp() as at`)).rows[0]!.at;
}
