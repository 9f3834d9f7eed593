import { z } from "zod";
import type { CrmRecord } from "../hubspot/schemas.ts";
import { readCursor, writeCursor } from "../schema/cursors.ts";
import { loadObject, setPhase } from "../schema/objects.ts";
import { inApplyingTransaction } from "../db/transaction.ts";
import type { SyncDeps } from "./deps.ts";
import { refreshOwners } from "./owners.ts";
import { refreshPipelines } from "./pipelines.ts";
import { recordRun, type RunSummary } from "./runs.ts";
import { loadTarget } from "./target.ts";
import { addCounts, applyRecords, emptyCounts } from "./upsert.ts";
import { HubSpotError } from "../hubspot/errors.ts";
import { propertyQueryLength, rememberUrlRefused, urlBudget } from "./url-budget.ts";

const BackfillState = z.object({
  after: z.string().nullable(),
  /** When the backfill started: the incremental stream starts here, so what changed meanwhile is pulled again. */
  cutoff: z.string(),
  pages: z.number().int(),
  records: z.number().int(),
  done: z.boolean(),
});
type BackfillState = z.infer<typeof BackfillState>;

export interface BackfillOptions {
  /** Records per list page / batch read (HubSpot's maximum, 100). */
  pageSize?: number;
  /** Called after each page is committed (tests use it to simulate a crash). */
  onPage?: (pages: number) => void | Promise<void>;
  /**
   * Up to this many characters of `properties=` query, records come straight from the list page
   * (one call per 100 records); beyond it (wide portals: 414 URI Too Long) the list gives ids only
   * and batch read fetches the records with the property names in a POST body. Default: the
   * portal's URL budget (HUBSYNC_URL_BUDGET, lowered by a 414 it answered).
   */
  maxPropertyQueryChars?: number;
}

/**
 * Full copy of one object type, resumable from its last committed page. When every property name
 * fits in a URL the list pages carry the records; otherwise ids come from the list API with a
 * single property (never hundreds in a URL: 414) and the records from batch read with every
 * property in the POST body. Each page and its cursor commit together.
 */
export async function backfill(deps: SyncDeps, objectType: string, opts: BackfillOptions = {}): Promise<RunSummary> {
  const row = await loadObject(deps.pool, objectType);
  if (row.kind !== "crm") {
    return recordRun(deps, objectType, "backfill", async () => {
      const records = row.kind === "owners" ? await refreshOwners(deps) : await refreshPipelines(deps);
      await startLive(deps, objectType);
      return { records };
    });
  }
  return recordRun(deps, objectType, "backfill", async () => {
    const target = await loadTarget(deps, objectType);
    const pageSize = Math.min(opts.pageSize ?? 100, 100);
    const saved = BackfillState.safeParse(await readCursor(deps.pool, objectType, "backfill"));
    let state: BackfillState =
      saved.success && !saved.data.done ? saved.data : { after: null, cutoff: new Date().toISOString(), pages: 0, records: 0, done: false };
    const resumedAt = state.pages;
    if (resumedAt > 0) deps.log.info({ objectType, pages: resumedAt, after: state.after }, "resuming backfill");
    await writeCursor(deps.pool, objectType, "backfill", state);
    const counts = emptyCounts();
    let missing = 0;
    const queryChars = propertyQueryLength(target.allProperties);
    let direct = queryChars <= (opts.maxPropertyQueryChars ?? (await urlBudget(deps.pool)));
    const fetchPage = async (after: string | null): Promise<{ records: CrmRecord[]; nextAfter: string | null; missing: number }> => {
      if (direct) {
        try {
          const page = await deps.hubspot.listPage(target.apiName, { after, limit: pageSize, properties: target.allProperties });
          return { records: page.results, nextAfter: page.nextAfter, missing: 0 };
        } catch (err) {
          if (!(err instanceof HubSpotError) || err.status !== 414) throw err;
          // This portal's limit is lower than the budget: remember it, and read by id from here on.
          const budget = await rememberUrlRefused(deps.pool, queryChars);
          deps.log.warn({ objectType, queryChars, budget }, "HubSpot answered 414 to the property list: reading records by id and batch read");
          direct = false;
        }
      }
      const page = await deps.hubspot.listPage(target.apiName, { after, limit: pageSize, properties: ["hs_object_id", target.lastModifiedProperty] });
      const read = await deps.hubspot.batchRead(target.apiName, page.results.map((r) => r.id), target.allProperties);
      return { records: read.results, nextAfter: page.nextAfter, missing: read.missing.length };
    };
    let pending = fetchPage(state.after);
    for (;;) {
      const page = await pending;
      if (page.nextAfter) {
        // the next page travels while this one is written (a crash costs at most that one page again)
        pending = fetchPage(page.nextAfter);
        pending.catch(() => {});
      }
      missing += page.missing;
      state = { ...state, after: page.nextAfter, pages: state.pages + 1, records: state.records + page.records.length };
      const next = state;
      await inApplyingTransaction(deps.pool, async (client) => {
        addCounts(counts, await applyRecords(client, target, page.records));
        await writeCursor(client, objectType, "backfill", next);
      });
      await opts.onPage?.(state.pages);
      if (!page.nextAfter) break;
    }
    state = { ...state, done: true };
    await inApplyingTransaction(deps.pool, async (client) => {
      await writeCursor(client, objectType, "backfill", state);
      // the live streams start where the backfill started; never move an existing cursor back
      await client.query(
        `insert into hubsync.cursors (object_type, stream, state) values ($1, 'incremental', $2), ($1, 'archived', $3)
         on conflict do nothing`,
        [objectType, JSON.stringify({ watermark: Date.parse(state.cutoff) }), JSON.stringify({ since: state.cutoff })],
      );
    });
    await startLive(deps, objectType);
    return {
      records: counts.inserted + counts.updated,
      details: { ...counts, pages: state.pages - resumedAt, resumedFromPage: resumedAt, missing, totalRecords: state.records, mode: direct ? "list" : "ids+batch-read" },
    };
  });
}

async function startLive(deps: SyncDeps, objectType: string): Promise<void> {
  await setPhase(deps.pool, objectType, "live");
}
