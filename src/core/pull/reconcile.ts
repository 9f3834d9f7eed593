import { inApplyingTransaction } from "../db/transaction.ts";
import { nowOf, type SyncContext } from "../context.ts";
import { asWork, backgroundMayRun, readDailyState } from "../daily-quota.ts";
import { forEachLiveCrmObject } from "./jobs.ts";
import { recordRun, type RunSummary } from "../runs.ts";
import { loadTarget } from "./target.ts";
import { addCounts, applyRecords, emptyCounts } from "./upsert.ts";
import { writeCursor } from "../schema/cursors.ts";

/**
 * Id-only reconciliation: lists every live id (one property, 100 per call) and diffs the set with
 * the table. Rows HubSpot no longer has (purged, archived beyond the recycle bin's 90 days,
 * merged away) leave the table or get archived_at; ids the table lacks (a restore, which bumps
 * nothing) are read in full. Rows that arrived after the listing began are left alone.
 */
export async function reconcile(deps: SyncContext, objectType: string): Promise<RunSummary> {
  return recordRun(deps, objectType, "reconcile", async () => {
    const target = await loadTarget(deps, objectType);
    const { rows: clock } = await deps.pool.query<{ now: Date }>(`select now()`);
    const startedAt = clock[0]!.now;
    const live = new Set<string>();
    let after: string | null = null;
    do {
      const page = await deps.hubspot.listPage(target.apiName, { after, limit: 100, properties: ["hs_object_id"] });
      for (const r of page.results) live.add(r.id);
      after = page.nextAfter;
    } while (after);

    const { rows } = await deps.pool.query<{ id: string }>(
      `select id from ${target.table} where id is not null and archived_at is null and _sync_inserted_at < $1`,
      [startedAt],
    );
    const stored = new Set(rows.map((r) => r.id));
    const gone = [...stored].filter((id) => !live.has(id));
    const absent = [...live].filter((id) => !stored.has(id));

    const counts = emptyCounts();
    // Ids the table lacks first: a record a merge made takes over a row of the records it absorbed
    // (with its waiting local changes), which the removal below then no longer finds by its old id.
    for (let i = 0; i < absent.length; i += 100) {
      const read = await deps.hubspot.batchRead(target.apiName, absent.slice(i, i + 100), target.allProperties);
      // Read after startedAt: an id live in the listing that a local delete archived before it was restored since.
      await inApplyingTransaction(deps.pool, async (client) => addCounts(counts, await applyRecords(client, target, read.results, startedAt)));
    }
    let removed = 0;
    if (gone.length) {
      removed = await inApplyingTransaction(deps.pool, async (client) => {
        const res =
          target.row.on_archive === "delete"
            ? await client.query(`delete from ${target.table} where id = any($1::text[]) and _sync_inserted_at < $2`, [gone, startedAt])
            : await client.query(
                `update ${target.table} set archived_at = now(), _sync_updated_at = now() where id = any($1::text[]) and archived_at is null and _sync_inserted_at < $2`,
                [gone, startedAt],
              );
        return res.rowCount ?? 0;
      });
    }
    await writeCursor(deps.pool, objectType, "reconcile", { lastRunAt: new Date().toISOString(), live: live.size, removed, added: counts.inserted });
    return { records: removed + counts.inserted + counts.updated, details: { live: live.size, stored: stored.size, removed, ...counts } };
  });
}

/**
 * The crontab's reconciliation of each live CRM type (or `only`), as background work: skipped
 * while the day's quota is down to the background floor (src/core/daily-quota.ts).
 */
export async function scheduledReconcile(deps: SyncContext, only?: string): Promise<boolean> {
  if (!backgroundMayRun(await readDailyState(deps.pool), nowOf(deps))) return false;
  await forEachLiveCrmObject(deps.pool, only, "hubsync_reconcile", (t) => asWork("reconcile", () => reconcile(deps, t)));
  return true;
}
