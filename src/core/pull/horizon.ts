import { z } from "zod";
import type { SyncContext } from "../context.ts";
import { inApplyingTransaction } from "../db/transaction.ts";
import { recordRun, type RunSummary } from "../runs.ts";
import { deleteCursor, readCursor, writeCursor } from "../schema/cursors.ts";
import { setPhase, type ObjectRow } from "../schema/objects.ts";
import { createWindowReader, SearchWindow, startLiveStreams } from "./incremental.ts";
import { loadTarget } from "./target.ts";

/**
 * A backfill horizon (hubsync.objects.backfill_since, set by enable_sync's `since`): the backfill
 * reads only the records modified since then. The list API has no filter, so such a backfill
 * searches last-modified (lastmodifieddate on contacts, hs_lastmodifieddate elsewhere: the type's
 * lastModifiedProperty) over a span of time, walking it by record id with each page a new query
 * from the last id read: HubSpot's search stops at 10,000 results per query, and none of these
 * queries pages that far, however many records the span holds.
 */

/** What the backfills so far have read: every record modified since `from` (null: every record). */
const HORIZON_STREAM = "horizon";
const Horizon = z.object({ from: z.string().nullable() });

/** A span backfill's progress: the window (bounds and the last id written) and when it started. */
const SPAN_STREAM = "backfill-window";
const SpanState = z.object({ cutoff: z.string(), window: SearchWindow, pages: z.number().int().default(0) });

export interface Span {
  /** Last-modified bounds, epoch ms, inclusive; `to` null: up to the backfill's start. */
  from: number;
  to: number | null;
}

/**
 * The span the next backfill of a type reads, or null for a full backfill (no horizon now, and
 * none before). With a horizon and nothing read yet: everything modified since it. With a horizon
 * wider than what earlier backfills read (hubsync.resync(type, since => …) moved it back): only
 * what lies between, records modified since the new horizon and before the old one; the newer
 * ones are in the table and the incremental pull keeps them.
 */
export async function horizonSpan(deps: SyncContext, row: ObjectRow): Promise<Span | null> {
  const since = row.backfill_since ? row.backfill_since.getTime() : null;
  const read = Horizon.safeParse(await readCursor(deps.pool, row.object_type, HORIZON_STREAM));
  const readFrom = read.success && read.data.from !== null ? Date.parse(read.data.from) : null;
  if (readFrom !== null && (since === null || since < readFrom)) return { from: since ?? 0, to: readFrom - 1 };
  if (since === null) return null;
  return { from: since, to: null };
}

/** A backfill of the records modified within a span (see horizonSpan), resumable from its last checkpoint. */
export async function backfillSpan(deps: SyncContext, row: ObjectRow, span: Span): Promise<RunSummary> {
  const objectType = row.object_type;
  return recordRun(deps, objectType, "backfill", async () => {
    const target = await loadTarget(deps, objectType);
    const saved = SpanState.safeParse(await readCursor(deps.pool, objectType, SPAN_STREAM));
    const started = new Date().toISOString();
    const state = saved.success
      ? saved.data
      : { cutoff: started, window: { from: span.from, to: span.to ?? Date.parse(started), afterId: "0" }, pages: 0 };
    if (saved.success) deps.log.info({ objectType, window: state.window }, "resuming the backfill of a span of time");
    await writeCursor(deps.pool, objectType, SPAN_STREAM, state);
    const reader = await createWindowReader(deps, target, 200, (window) => writeCursor(deps.pool, objectType, SPAN_STREAM, { ...state, window }));
    await reader.read(state.window);
    await reader.flush();
    await inApplyingTransaction(deps.pool, async (client) => {
      await writeCursor(client, objectType, "backfill", { after: null, cutoff: state.cutoff, pages: 0, records: reader.stats.hits, done: true });
      await writeCursor(client, objectType, HORIZON_STREAM, { from: row.backfill_since?.toISOString() ?? null });
      await deleteCursor(client, objectType, SPAN_STREAM);
      await startLiveStreams(client, objectType, state.cutoff);
    });
    await setPhase(deps.pool, objectType, "live");
    return {
      records: reader.counts.inserted + reader.counts.updated,
      details: {
        ...reader.counts,
        ...reader.stats,
        mode: "horizon",
        since: new Date(state.window.from).toISOString(),
        until: new Date(state.window.to).toISOString(),
        resumed: saved.success,
      },
    };
  });
}
