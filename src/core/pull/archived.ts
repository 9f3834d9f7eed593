import { z } from "zod";
import { readCursor, writeCursor } from "../schema/cursors.ts";
import { loadObject } from "../schema/objects.ts";
import { inApplyingTransaction } from "../db/transaction.ts";
import { nowOf, type SyncContext } from "../context.ts";
import { archivedInterval, asWork, backgroundMayRun, pagesFor, readDailyState } from "../daily-quota.ts";
import { recordRun, type RunSummary } from "../runs.ts";
import { forEachLiveCrmObject } from "./jobs.ts";
import { loadTarget, type PullTarget } from "./target.ts";

/** since: newest archive seen; scannedAt (the context's clock) and listed: the last scan's time and bin size. */
const ArchivedState = z.object({ since: z.string(), scannedAt: z.string().optional(), listed: z.number().optional() });

/** Archives are re-checked this far back each run: re-applying one is harmless, missing one is not. */
const OVERLAP_MS = 5 * 60 * 1000;

/**
 * Archiving does not bump last-modified, so search never reports it. The archived list
 * (archived=true, ids only) is read in full and filtered on archivedAt > cursor; those records
 * leave the table or get archived_at, per hubsync.objects.on_archive.
 */
export async function pullArchived(deps: SyncContext, objectType: string): Promise<RunSummary> {
  return recordRun(deps, objectType, "archived", async () => {
    const target = await loadTarget(deps, objectType);
    const saved = ArchivedState.safeParse(await readCursor(deps.pool, objectType, "archived"));
    const since = saved.success ? Date.parse(saved.data.since) : 0;
    const from = since - OVERLAP_MS;
    const archived: Array<{ id: string; archived_at: string }> = [];
    let newest = since;
    let after: string | null = null;
    let listed = 0;
    do {
      const page = await deps.hubspot.listPage(target.apiName, { after, limit: 100, archived: true, properties: ["hs_object_id"] });
      listed += page.results.length;
      for (const r of page.results) {
        const at = r.archivedAt ? Date.parse(r.archivedAt) : Date.parse(r.updatedAt);
        if (at > from) archived.push({ id: r.id, archived_at: new Date(at).toISOString() });
        if (at > newest) newest = at;
      }
      after = page.nextAfter;
    } while (after);
    const removed = await applyArchives(deps, target, archived);
    await writeCursor(deps.pool, objectType, "archived", { since: new Date(newest).toISOString(), scannedAt: nowOf(deps).toISOString(), listed });
    return { records: removed, details: { listed, candidates: archived.length, onArchive: target.row.on_archive } };
  });
}

/**
 * The archived scan as background work: each live CRM type (or `only`) is listed, when the crontab
 * asks (`fromCron`) only the types whose scan the daily-quota policy (src/core/daily-quota.ts) says
 * is due; the others wait for a later tick. A job queued by hand runs every type now. Returns the
 * types scanned.
 */
export async function scheduledArchivedScans(deps: SyncContext, opts: { only?: string; fromCron: boolean }): Promise<string[]> {
  const scanned: string[] = [];
  // From the crontab a scan past the day's background floor stays quiet. Asked for by hand it tries,
  // and the rate budget refuses its first call with the reason and the time of the reset (checking
  // here too would answer the same question twice, and a floor reached between two scans would
  // then pass in silence).
  if (opts.fromCron && !backgroundMayRun(await readDailyState(deps.pool), nowOf(deps))) return scanned;
  await forEachLiveCrmObject(deps.pool, opts.only, "hubsync_pull_archived", async (objectType) => {
    if (opts.fromCron && !(await archivedScanDue(deps, objectType)).due) return;
    await asWork("archived", () => pullArchived(deps, objectType));
    scanned.push(objectType);
  });
  return scanned;
}

/** Whether a type's archived scan is due now, and the interval the policy gives it. */
export async function archivedScanDue(deps: SyncContext, objectType: string): Promise<{ due: boolean; intervalMs: number }> {
  const now = nowOf(deps);
  const day = await readDailyState(deps.pool);
  const saved = ArchivedState.safeParse(await readCursor(deps.pool, objectType, "archived"));
  // every type's bin counts against the one share of the day the scans have
  const { rows } = await deps.pool.query<{ listed: string | null; deletes: boolean }>(
    `select (select sum(ceil(greatest(coalesce((state ->> 'listed')::numeric, 0), 1) / 100)) from hubsync.cursors where stream = 'archived') as listed,
            exists (select 1 from hubsync.webhook_events e join hubsync.cursors c on c.object_type = $1 and c.stream = 'archived'
                     where e.object_type = $1 and e.subscription_type like '%.deletion' and e.received_at > c.updated_at) as deletes`,
    [objectType],
  );
  const binPagesAll = Math.max(Number(rows[0]?.listed ?? 0), saved.success ? pagesFor(saved.data.listed ?? 0) : 1);
  const intervalMs = archivedInterval({ day, binPagesAll, webhookDeletes: rows[0]?.deletes ?? false, now });
  if (!backgroundMayRun(day, now)) return { due: false, intervalMs };
  const last = saved.success && saved.data.scannedAt ? Date.parse(saved.data.scannedAt) : NaN;
  return { due: !Number.isFinite(last) || now.getTime() - last >= intervalMs, intervalMs };
}

/** Removes (or marks) rows HubSpot archived; returns how many rows changed. */
export async function applyArchives(deps: SyncContext, target: PullTarget, archived: Array<{ id: string; archived_at: string }>): Promise<number> {
  if (archived.length === 0) return 0;
  const row = await loadObject(deps.pool, target.objectType);
  return inApplyingTransaction(deps.pool, async (client) => {
    const json = JSON.stringify(archived);
    const result =
      row.on_archive === "delete"
        ? await client.query(
            `delete from ${target.table} t using jsonb_to_recordset($1::jsonb) as x(id text, archived_at timestamptz)
              where t.id = x.id and (t.updated_at is null or t.updated_at <= x.archived_at)`,
            [json],
          )
        : await client.query(
            `update ${target.table} t set archived_at = x.archived_at, _sync_updated_at = now()
               from jsonb_to_recordset($1::jsonb) as x(id text, archived_at timestamptz)
              where t.id = x.id and t.archived_at is null and (t.updated_at is null or t.updated_at <= x.archived_at)`,
            [json],
          );
    return result.rowCount ?? 0;
  });
}
