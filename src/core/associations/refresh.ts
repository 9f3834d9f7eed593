import { z } from "zod";
import type { SyncContext } from "../context.ts";
import { recordRun } from "../runs.ts";
import { readCursor, writeCursor } from "../schema/cursors.ts";
import { quoteIdent } from "../schema/naming.ts";
import { findObject } from "../schema/objects.ts";
import { loadPairs, type AssociationPair } from "./pairs.ts";
import { BATCH_READ_LIMIT } from "./read.ts";
import { noChanges, otherEnds, syncIds, TypeMapUnresolved, type PassContext } from "./sync.ts";
import { readBackfillMark } from "./embedded.ts";

const STREAM = "associations:changed";
const Cursor = z.object({ since: z.string() });

/**
 * Rows a pull rewrote are looked at again this far back: a pull transaction (one page, well under a
 * second) that began before the last refresh may commit after it with an older _sync_updated_at.
 * Each refresh re-reads the few ids of this window again; cheap, and kept short for that reason.
 */
const OVERLAP_MS = 30 * 1000;

/** Changed ids refreshed per run. */
const REFRESH_PAGE = 10_000;

/**
 * Re-reads the associations of the given records (of objectType) for every backfilled pair they
 * are an end of, and brings the tables in line for them: the hook for records an incremental pull
 * just brought in (a new contact with its company, a deal moved to other line items). A pair whose
 * type ids cannot be translated from this end is left to the next sweep. `withType` limits it to
 * the one pair with that type (an association change names it).
 */
export async function refreshAssociationsFor(
  deps: SyncContext,
  objectType: string,
  ids: string[],
  opts: { withType?: string } = {},
): Promise<{ inserted: number; updated: number; deleted: number; pairs: number }> {
  const out = { ...noChanges(), pairs: 0 };
  if (ids.length === 0) return out;
  const backfilled = await deps.pool.query<{ table_name: string }>(`select table_name from hubsync.association_pairs where backfilled_at is not null`);
  const done = new Set(backfilled.rows.map((r) => r.table_name));
  const wanted = (p: AssociationPair) =>
    done.has(p.table) && (opts.withType === undefined || (p.a.objectType === objectType ? p.b.objectType : p.a.objectType) === opts.withType);
  for (const pair of (await loadPairs(deps.pool, objectType)).filter(wanted)) {
    const ctx: PassContext = { side: pair.a.objectType === objectType ? "a" : "b" };
    const apply = async (list: string[]) => {
      for (let i = 0; i < list.length; i += BATCH_READ_LIMIT) {
        const r = await syncIds(deps, pair, ctx, list.slice(i, i + BATCH_READ_LIMIT));
        out.inserted += r.inserted;
        out.updated += r.updated;
        out.deleted += r.deleted;
      }
    };
    try {
      if (pair.sameType) {
        // Same-type tables hold both directions: the other ends (before and after) are read too,
        // so the row back from each of them agrees with the row to it.
        const before = await otherEnds(deps, pair, ids);
        await apply(ids);
        const mine = new Set(ids);
        await apply([...new Set([...before, ...(await otherEnds(deps, pair, ids))])].filter((id) => !mine.has(id)));
      } else {
        await apply(ids);
      }
      out.pairs++;
    } catch (err) {
      if (!(err instanceof TypeMapUnresolved)) throw err;
      deps.log.info({ table: pair.table }, "association refresh skipped for this pair; the sweep reads it from the other end");
    }
  }
  return out;
}

/**
 * Refreshes the associations of the records of objectType that the pull wrote since the last call
 * (hubspot.<table>._sync_updated_at past this stream's cursor). The first call only sets the cursor:
 * everything before it was read by the association backfill. Call it after an incremental pull.
 */
export async function refreshChangedAssociations(deps: SyncContext, objectType: string): Promise<number> {
  const table = (await findObject(deps.pool, objectType))?.table_name;
  if (!table) return 0;
  // the database's clock, which stamps _sync_updated_at
  const now = (await deps.pool.query<{ now: Date }>(`select now()`)).rows[0]!.now.toISOString();
  const saved = Cursor.safeParse(await readCursor(deps.pool, objectType, STREAM));
  if (!saved.success) {
    await writeCursor(deps.pool, objectType, STREAM, { since: now });
    return 0;
  }
  // Never before the type's backfill ended: the records it wrote had their associations read with
  // them or by the pair's fill after it (embedded.ts), and a small portal's whole backfill falls
  // within the overlap.
  const ended = Date.parse((await readBackfillMark(deps.pool, objectType))?.endedAt ?? "");
  const since = new Date(Math.max(Date.parse(saved.data.since) - OVERLAP_MS, Number.isFinite(ended) ? ended : -Infinity)).toISOString();
  // In pages of ids, each its own run: a pull that rewrote a million rows must not have them all read at once.
  let total = 0;
  for (let last = ""; ; ) {
    const { rows } = await deps.pool.query<{ id: string }>(
      `select id from hubspot.${quoteIdent(table)} where id is not null and archived_at is null and _sync_updated_at > $1 and id > $2 order by id limit $3`,
      [since, last, REFRESH_PAGE],
    );
    if (rows.length > 0) {
      await recordRun(deps, null, "associations", async () => {
        const r = await refreshAssociationsFor(deps, objectType, rows.map((x) => x.id));
        return { records: r.inserted + r.updated + r.deleted, details: { refresh: objectType, ids: rows.length, ...r } };
      });
    }
    total += rows.length;
    if (rows.length < REFRESH_PAGE) break;
    last = rows[rows.length - 1]!.id;
  }
  await markRefreshed(deps, objectType, now);
  return total;
}

/** Moves the refresh cursor forward to `at` (never back). */
export async function markRefreshed(deps: SyncContext, objectType: string, at: string): Promise<void> {
  const saved = Cursor.safeParse(await readCursor(deps.pool, objectType, STREAM));
  if (saved.success && Date.parse(saved.data.since) >= Date.parse(at)) return;
  await writeCursor(deps.pool, objectType, STREAM, { since: at });
}
