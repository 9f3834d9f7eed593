import { inApplyingTransaction, withChangeSource } from "../db/transaction.ts";
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
/** Table ids read per query. */
const ID_PAGE = 10_000;

/**
 * The ids HubSpot listed, kept compact: HubSpot's record ids are integers, held here as numbers in
 * a sorted Float64Array (8 MB for a million) instead of a Set of strings (about ten times that),
 * with a flag per id for "the table has it". An id that is not a plain integer goes in a Set.
 */
export class IdList {
  private nums = new Float64Array(1024);
  private n = 0;
  private seen = new Uint8Array(0);
  private others = new Map<string, boolean>();

  add(id: string): void {
    const v = Number(id);
    if (!Number.isSafeInteger(v) || String(v) !== id) {
      this.others.set(id, false);
      return;
    }
    if (this.n === this.nums.length) {
      const grown = new Float64Array(this.nums.length * 2);
      grown.set(this.nums);
      this.nums = grown;
    }
    this.nums[this.n++] = v;
  }

  /** Done adding: sorts the ids for lookups. */
  seal(): void {
    const sorted = this.nums.slice(0, this.n).sort();
    // a record listed twice (paging while it moved) counts once
    let k = 0;
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[k - 1]) sorted[k++] = sorted[i]!;
    this.nums = sorted.slice(0, k);
    this.n = k;
    this.seen = new Uint8Array(k);
  }

  get size(): number {
    return this.n + this.others.size;
  }

  /** Flags `id` as present in the table; false when HubSpot did not list it. */
  mark(id: string): boolean {
    if (this.others.has(id)) {
      this.others.set(id, true);
      return true;
    }
    const v = Number(id);
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.nums[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    if (lo < this.n && this.nums[lo] === v && String(v) === id) {
      this.seen[lo] = 1;
      return true;
    }
    return false;
  }

  /** The listed ids the table does not have. */
  unmarked(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.n; i++) if (!this.seen[i]) out.push(String(this.nums[i]));
    for (const [id, marked] of this.others) if (!marked) out.push(id);
    return out;
  }
}

export async function reconcile(deps: SyncContext, objectType: string): Promise<RunSummary> {
  return recordRun(deps, objectType, "reconcile", () => withChangeSource("reconcile", async () => {
    const target = await loadTarget(deps, objectType);
    const { rows: clock } = await deps.pool.query<{ now: Date }>(`select now()`);
    const startedAt = clock[0]!.now;
    const live = new IdList();
    let after: string | null = null;
    do {
      const page = await deps.hubspot.listPage(target.apiName, { after, limit: 100, properties: ["hs_object_id"] });
      for (const r of page.results) live.add(r.id);
      after = page.nextAfter;
    } while (after);
    live.seal();

    // The table's ids in pages, not all at once: a million rows read whole would hold more than
    // the worker's heap limit allows.
    const gone: string[] = [];
    let stored = 0;
    for (let last = ""; ; ) {
      const { rows } = await deps.pool.query<{ id: string }>(
        `select id from ${target.table} where id is not null and archived_at is null and _sync_inserted_at < $1 and id > $2 order by id limit $3`,
        [startedAt, last, ID_PAGE],
      );
      for (const { id } of rows) if (!live.mark(id)) gone.push(id);
      stored += rows.length;
      if (rows.length < ID_PAGE) break;
      last = rows[rows.length - 1]!.id;
    }
    const absent = live.unmarked();

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
    return { records: removed + counts.inserted + counts.updated, details: { live: live.size, stored, removed, ...counts } };
  }));
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
