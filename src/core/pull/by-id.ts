import { inApplyingTransaction } from "../db/transaction.ts";
import type { SyncContext } from "../context.ts";
import { MERGED_IDS_PROPERTY } from "../schema/object-catalog.ts";
import { applyArchives } from "./archived.ts";
import type { PullTarget } from "./target.ts";
import { addCounts, applyRecords, emptyCounts, type ApplyCounts } from "./upsert.ts";

/** HubSpot's batch read takes at most 100 ids. */
const BATCH_READ = 100;

export interface ByIdCounts extends ApplyCounts {
  /** Rows removed (or marked) because the record is in HubSpot's recycle bin. */
  archived: number;
  /** Rows removed (or marked) because HubSpot has the record nowhere: purged, or merged away. */
  gone: number;
}

/**
 * Brings the rows of these ids to HubSpot's state now, through the same code as a pull: live
 * records are written (batch read, 100 per call), records in the recycle bin are removed or
 * marked (hubsync.objects.on_archive) as the archived scan does, and ids HubSpot has nowhere are
 * removed as the reconciliation does. A merged-away id is either unknown to HubSpot (404) or
 * answered with the survivor, which names it in hs_merged_object_ids (applyRecords then gives its
 * row the survivor's id).
 */
export async function readByIds(deps: SyncContext, target: PullTarget, ids: string[], logContext: Record<string, unknown> = {}): Promise<ByIdCounts> {
  const totals: ByIdCounts = { ...emptyCounts(), archived: 0, gone: 0 };
  for (let i = 0; i < ids.length; i += BATCH_READ) {
    const chunk = ids.slice(i, i + BATCH_READ);
    // Database time before the read: a record live in it whose local delete was sent earlier has
    // been restored in HubSpot since, so it comes back.
    const readAt = (await deps.pool.query<{ at: Date }>(`select clock_timestamp() as at`)).rows[0]!.at;
    const live = await deps.hubspot.batchRead(target.apiName, chunk, target.allProperties);
    if (live.results.length > 0) {
      await inApplyingTransaction(deps.pool, async (client) => addCounts(totals, await applyRecords(client, target, live.results, readAt)));
    }
    const found = new Set(live.results.map((r) => r.id));
    const merged = new Set(live.results.flatMap((r) => (r.properties[MERGED_IDS_PROPERTY] ?? "").split(";").map((id) => id.trim())));
    const unexplained = chunk.filter((id) => !found.has(id) && !merged.has(id) && !live.missing.includes(id));
    if (unexplained.length > 0) deps.log.warn({ ...logContext, objectType: target.objectType, ids: unexplained }, "batch read answered neither the record nor not-found; left as is");
    if (live.missing.length === 0) continue;
    const bin = await deps.hubspot.batchRead(target.apiName, live.missing, ["hs_object_id"], { archived: true });
    const now = new Date().toISOString();
    totals.archived += await applyArchives(deps, target, bin.results.map((r) => ({ id: r.id, archived_at: r.archivedAt ?? now })));
    totals.gone += await applyArchives(deps, target, bin.missing.map((id) => ({ id, archived_at: now })));
  }
  return totals;
}
