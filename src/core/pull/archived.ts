import { z } from "zod";
import { readCursor, writeCursor } from "../schema/cursors.ts";
import { loadObject } from "../schema/objects.ts";
import { inApplyingTransaction } from "../db/transaction.ts";
import type { SyncContext } from "../context.ts";
import { recordRun, type RunSummary } from "../runs.ts";
import { loadTarget, type PullTarget } from "./target.ts";

const ArchivedState = z.object({ since: z.string() });

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
    await writeCursor(deps.pool, objectType, "archived", { since: new Date(newest).toISOString() });
    return { records: removed, details: { listed, candidates: archived.length, onArchive: target.row.on_archive } };
  });
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
