import type { SyncContext } from "../context.ts";
import { recordRun, type RunSummary } from "../runs.ts";
import { findObject } from "../schema/objects.ts";
import { LISTS, pullLists } from "./pull.ts";

/**
 * The sweep of lists (hourly, crontab): every list's members read in full and compared, so a
 * removal the minute pull could not see (it reads only lists whose counters moved) still arrives,
 * and lists deleted in HubSpot are marked. A run of hubsync.runs (kind 'sweep'); nothing while lists
 * are not enabled or not live yet (the backfill reads everything anyway).
 */
export async function sweepLists(deps: SyncContext): Promise<RunSummary | null> {
  const row = await findObject(deps.pool, LISTS);
  if (!row?.enabled || row.phase !== "live") return null;
  return recordRun(deps, LISTS, "sweep", () => pullLists(deps, { full: true }));
}
