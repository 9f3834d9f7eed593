import { z } from "zod";
import { refreshAssociationsFor } from "../associations/refresh.ts";
import type { SyncContext } from "../context.ts";
import { recordRun } from "../runs.ts";
import { loadObject } from "../schema/objects.ts";
import { readByIds } from "./by-id.ts";
import { loadTarget } from "./target.ts";

const Claimed = z.object({ id: z.coerce.number().int(), record_ids: z.array(z.string()) });

/**
 * A request another job took but never finished (its worker was killed) is taken again after
 * this long; a job that fails gives its requests back at once.
 */
const STALE_CLAIM = "5 minutes";

/**
 * Serves the waiting hubsync.refresh() requests of a type (sql/52_refresh.sql): reads their records
 * as the webhook apply does (live ones written, archived and vanished ones removed or marked as the
 * archived scan and the reconciliation do), then re-reads their associations, and marks each request
 * done with what changed. Returns the number of requests served.
 */
export async function serveRefreshRequests(deps: SyncContext, objectType: string): Promise<number> {
  const { rows } = await deps.pool.query(
    `update hubsync.refresh_requests r set started_at = now(), error = null
      where r.id in (select x.id from hubsync.refresh_requests x
                      where x.object_type = $1 and x.done_at is null
                        and (x.started_at is null or x.started_at < now() - $2::interval)
                      order by x.id for update skip locked)
      returning r.id, r.record_ids`,
    [objectType, STALE_CLAIM],
  );
  const requests = rows.map((r) => Claimed.parse(r));
  if (requests.length === 0) return 0;
  const requestIds = requests.map((r) => r.id);
  const finish = (result: unknown, error: string | null) =>
    deps.pool.query(`update hubsync.refresh_requests set done_at = now(), result = $2, error = $3 where id = any($1::bigint[])`, [
      requestIds,
      result === null ? null : JSON.stringify(result),
      error,
    ]);

  const row = await loadObject(deps.pool, objectType);
  if (!row.enabled) {
    await finish(null, `${objectType} was disabled before the refresh ran`);
    return requests.length;
  }
  const ids = [...new Set(requests.flatMap((r) => r.record_ids))];
  try {
    const summary = await recordRun(deps, objectType, "refresh", async () => {
      const target = await loadTarget(deps, objectType);
      const read = await readByIds(deps, target, ids, { component: "refresh" });
      // associations of the records that are there now (a removed record's went with its row)
      const present = await deps.pool.query<{ id: string }>(`select id from ${target.table} where id = any($1::text[]) and archived_at is null`, [ids]);
      const assoc = await refreshAssociationsFor(deps, objectType, present.rows.map((r) => r.id));
      const associations = assoc.inserted + assoc.updated + assoc.deleted;
      return { records: read.inserted + read.updated + read.archived + read.gone, details: { ids: ids.length, ...read, associations } };
    });
    await finish({ ...summary.details, requests: summary.requests, ms: summary.ms }, null);
  } catch (err) {
    // given back for the job's retry (or the next refresh of the type); the error shows meanwhile
    await deps.pool.query(`update hubsync.refresh_requests set started_at = null, error = $2 where id = any($1::bigint[])`, [
      requestIds,
      err instanceof Error ? err.message : String(err),
    ]);
    throw err;
  }
  return requests.length;
}
