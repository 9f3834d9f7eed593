import { z } from "zod";
import type pg from "pg";
import type { SearchRequest } from "../hubspot/client.ts";
import type { CrmRecord, ListPage, SearchPage } from "../hubspot/schemas.ts";
import { clearBackfillMark, embeddedWriter, writeBackfillMark, type EmbeddedWriter } from "../associations/embedded.ts";
import { readCursor, writeCursor } from "../schema/cursors.ts";
import { loadObject, setPhase } from "../schema/objects.ts";
import { inApplyingTransaction } from "../db/transaction.ts";
import type { SyncContext } from "../context.ts";
import { refreshOwners } from "./owners.ts";
import { refreshPipelines } from "./pipelines.ts";
import { pullLists } from "../lists/pull.ts";
import { recordRun, type RunSummary } from "../runs.ts";
import { loadTarget, type PullTarget } from "./target.ts";
import { addCounts, applyRecords, emptyCounts, type ApplyCounts } from "./upsert.ts";
import { HubSpotError, PausedError } from "../hubspot/errors.ts";
import { backfillSpan, horizonSpan } from "./horizon.ts";
import { startLiveStreams } from "./incremental.ts";
import { holdPage, pageValues, readHeld } from "./page-memory.ts";
import { propertyQueryLength, rememberUrlRefused, SEARCH_BODY_LIMIT, searchWidthFor, searchWithWidth, urlBudget, type SearchWidth } from "./portal-limits.ts";

const BackfillState = z.object({
  after: z.string().nullable(),
  /** When the backfill started: the incremental stream starts here, so what changed meanwhile is pulled again. */
  cutoff: z.string(),
  pages: z.number().int(),
  records: z.number().int(),
  done: z.boolean(),
  /** Highest id the list has read so far. */
  lastId: z.string().nullable().default(null),
  /** Whether the list's pages came in ascending id order (if not, the list reads to the end whatever the search ranges do). */
  ordered: z.boolean().default(true),
  /** The list reached its end, or the search ranges above it. */
  listDone: z.boolean().default(false),
});
type BackfillState = z.infer<typeof BackfillState>;

/** The search ranges of a split backfill, ascending by id; the last is open-ended (records created meanwhile fall in it). */
const RangePlan = z.object({ ranges: z.array(z.object({ lo: z.string(), hi: z.string().nullable() })) });
type RangePlan = z.infer<typeof RangePlan>;
/** One range's progress: every record with an id up to `afterId` is written. */
const RangeState = z.object({ afterId: z.string(), pages: z.number().int(), done: z.boolean() });
type RangeState = z.infer<typeof RangeState>;

const PLAN_STREAM = "backfill-plan";
const rangeStream = (i: number) => `backfill-range:${i}`;

/** HubSpot's search page maximum. */
const SEARCH_PAGE = 200;
/** Below this many records one list reader is all a type needs (and costs nothing extra to plan). */
const DEFAULT_SPLIT_MIN_RECORDS = 10_000;
/**
 * Records per search range: well under the 10,000 results a single search can page through. Each
 * page is a new query from the last id read, so a range that grew meanwhile still never reaches it.
 */
const DEFAULT_RANGE_RECORDS = 5_000;
/** Search ranges read at once: enough to fill the general budget beside the list, within search's 5 per second. */
const DEFAULT_SEARCH_READERS = 2;
/**
 * List pages read before search ranges are planned: a type the list finishes by then never spends
 * a search call on it (small portals), and a large one loses a fraction of a second.
 */
const PLAN_AFTER_PAGES = 5;
/** Empty pages in a row that still point further before a range gives up (HubSpot sends such pages). */
const MAX_EMPTY_PAGES = 20;

export interface BackfillOptions {
  /** Records per list page / batch read (HubSpot's maximum, 100). */
  pageSize?: number;
  /** Called after each list page is committed (tests use it to simulate a crash). */
  onPage?: (pages: number) => void | Promise<void>;
  /** Called after each search-range page is committed, with the range's index and its pages so far. */
  onSearchPage?: (range: number, pages: number) => void | Promise<void>;
  /**
   * Up to this many characters of `properties=` query, records come straight from the list page
   * (one call per 100 records); beyond it (wide portals: 414 URI Too Long) the list gives ids only
   * and batch read fetches the records with the property names in a POST body. Default: the
   * portal's URL budget (HUBSYNC_URL_BUDGET, lowered by a 414 it answered).
   */
  maxPropertyQueryChars?: number;
  /** A type with at least this many records is also read through search ranges (default 10,000). */
  splitMinRecords?: number;
  /** Records per search range (default 5,000; HubSpot's search stops at 10,000 results). */
  rangeRecords?: number;
  /** Search ranges read at once (default 2). */
  searchReaders?: number;
}

interface Stats {
  searchPages: number;
  searchRecords: number;
  ranges: number;
  rangesRead: number;
  resumedRanges: number;
  missing: number;
  searchMode: "records" | "ids+batch-read" | null;
}

/**
 * Full copy of one object type, resumable. Two kinds of reader share the work, each on its own
 * HubSpot budget:
 * - the list reader pages from the lowest id up (list and batch calls: the 10-second limit). When
 *   every property name fits in a URL the list pages carry the records; otherwise ids come from
 *   the list with a single property (never hundreds in a URL: 414) and the records from batch read
 *   with every property in the POST body;
 * - on a large type, search readers take `hs_object_id` ranges from the highest id down (search:
 *   its own limit of 5 per second), until they meet the list. One page loop cannot fill the
 *   10-second budget by itself (each page waits for the previous one's cursor); the ranges can be
 *   read side by side. A search page carries the records when the property list fits in a search
 *   body, else ids that batch read turns into records (again on the general budget, in parallel).
 * HubSpot's list pages come in ascending id order (its `after` is the next record's id); the list
 * stops on the page that reaches the lowest range a search reader took. Should a portal's list not
 * come in id order, it reads to the end instead: records then arrive twice, never not at all.
 * Each page is written with its reader's progress in one transaction (the list's in the
 * `backfill` cursor, each range's in its own), so a crash costs at most the pages in flight.
 * Search sees a record a few moments after it is created: one created just before the backfill
 * and missed by a range is read by the first incremental pass, which searches back its lag window
 * from the backfill's start.
 */
export async function backfill(deps: SyncContext, objectType: string, opts: BackfillOptions = {}): Promise<RunSummary> {
  const row = await loadObject(deps.pool, objectType);
  if (row.kind !== "crm") {
    return recordRun(deps, objectType, "backfill", async () => {
      if (row.kind === "lists") {
        const r = await pullLists(deps, { full: true });
        await startLive(deps, objectType);
        return r;
      }
      const records = row.kind === "owners" ? await refreshOwners(deps) : await refreshPipelines(deps);
      await startLive(deps, objectType);
      return { records };
    });
  }
  // a backfill horizon (enable_sync's since): records modified in a span of time, through search
  const span = await horizonSpan(deps, row);
  if (span) return backfillSpan(deps, row, span);
  return recordRun(deps, objectType, "backfill", async () => {
    const target = await loadTarget(deps, objectType);
    const saved = BackfillState.safeParse(await readCursor(deps.pool, objectType, "backfill"));
    const fresh = !(saved.success && !saved.data.done);
    const state: BackfillState = fresh
      ? BackfillState.parse({ after: null, cutoff: new Date().toISOString(), pages: 0, records: 0, done: false })
      : saved.data!;
    // a new backfill must not follow the ranges of an earlier one
    if (fresh) await deleteRangeCursors(deps.pool, objectType);
    if (fresh) await clearBackfillMark(deps.pool, objectType);
    const startedAt = (await deps.pool.query<{ now: Date }>(`select now() as now`)).rows[0]!.now.toISOString();
    const embed = await embeddedWriter(deps, objectType);
    const resumedAt = state.pages;
    if (resumedAt > 0) deps.log.info({ objectType, pages: resumedAt, after: state.after }, "resuming backfill");
    await writeCursor(deps.pool, objectType, "backfill", state);

    const counts = emptyCounts();
    const stats: Stats = { searchPages: 0, searchRecords: 0, ranges: 0, rangesRead: 0, resumedRanges: 0, missing: 0, searchMode: null };
    const coord = await loadCoordination(deps, objectType, state);
    const failure: { error?: unknown } = {};
    const stopped = () => failure.error !== undefined;
    const guard = async (fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        failure.error ??= err;
      }
    };

    let listUnderWay!: () => void;
    const underWay = new Promise<void>((resolve) => (listUnderWay = resolve));
    const list = listReader(deps, target, opts, state, coord, counts, stopped, listUnderWay, embed);
    const search = async () => {
      if (!coord.plan) {
        await underWay;
        if (coord.listDone || stopped()) return;
        coord.plan = await planRanges(deps, target, opts);
        coord.nextIndex = coord.plan.ranges.length - 1;
      }
      stats.ranges = coord.plan.ranges.length;
      if (coord.plan.ranges.length === 0) return;
      const readers = Math.max(1, opts.searchReaders ?? DEFAULT_SEARCH_READERS);
      const big = String(Number.MAX_SAFE_INTEGER);
      const width = await searchWidthFor(deps.pool, JSON.stringify(rangeQuery({ hi: big }, big, target.allProperties, "10000")).length <= SEARCH_BODY_LIMIT);
      await Promise.all(
        Array.from({ length: readers }, () =>
          guard(async () => {
            for (let i = await claimRange(deps, objectType, coord); i !== null && !stopped(); i = await claimRange(deps, objectType, coord)) {
              await readRange(deps, target, opts, coord, i, width, counts, stats, stopped);
            }
          }),
        ),
      );
    };
    await Promise.all([guard(() => list.run()), guard(search)]);
    if (failure.error !== undefined) throw failure.error;
    // The list's pages embedded every record's associations only if the list read every record, in one run.
    const embeddedPairs = await embed.finish();
    const wholeList = resumedAt === 0 && stats.rangesRead === 0;

    await inApplyingTransaction(deps.pool, async (client) => {
      await writeCursor(client, objectType, "backfill", { ...list.state(), done: true });
      await writeBackfillMark(client, objectType, startedAt, wholeList ? embeddedPairs : []);
      await deleteRangeCursors(client, objectType);
      await startLiveStreams(client, objectType, state.cutoff);
    });
    await startLive(deps, objectType);
    const { missing: _m, ...searchStats } = stats;
    return {
      records: counts.inserted + counts.updated,
      details: {
        ...counts,
        pages: list.state().pages - resumedAt,
        resumedFromPage: resumedAt,
        missing: list.missing() + stats.missing,
        totalRecords: list.state().records + stats.searchRecords,
        listRecords: list.state().records,
        mode: list.mode(),
        ...searchStats,
        associationsEmbedded: wholeList ? embeddedPairs : [],
      },
    };
  });
}

/** What the readers of one backfill share: where the list is, and which ranges the search readers took. */
interface Coordination {
  plan: RangePlan | null;
  progress: Map<number, RangeState>;
  /** Ranges a crashed run left part-way: read first. */
  resume: number[];
  /** The next range (from the top down) nobody has taken. */
  nextIndex: number;
  /** Lowest id of a range taken by search: the list stops once it reads past it. */
  floor: bigint | null;
  listLast: bigint;
  listDone: boolean;
  ordered: boolean;
}

async function loadCoordination(deps: SyncContext, objectType: string, state: BackfillState): Promise<Coordination> {
  const coord: Coordination = {
    plan: null,
    progress: new Map(),
    resume: [],
    nextIndex: -1,
    floor: null,
    listLast: state.lastId === null ? -1n : BigInt(state.lastId),
    listDone: state.listDone,
    ordered: state.ordered,
  };
  const plan = RangePlan.safeParse(await readCursor(deps.pool, objectType, PLAN_STREAM));
  if (!plan.success) return coord;
  coord.plan = plan.data;
  coord.nextIndex = plan.data.ranges.length - 1;
  for (let i = plan.data.ranges.length - 1; i >= 0; i--) {
    const p = RangeState.safeParse(await readCursor(deps.pool, objectType, rangeStream(i)));
    if (p.success) coord.progress.set(i, p.data);
  }
  const lowest = Math.min(...coord.progress.keys());
  if (!Number.isFinite(lowest)) return coord;
  // Ranges are taken from the top down: every one from the lowest taken up is read (again, from
  // where it got to), including one whose claim was not written before the crash.
  for (let i = plan.data.ranges.length - 1; i >= lowest; i--) if (!coord.progress.get(i)?.done) coord.resume.push(i);
  coord.nextIndex = lowest - 1;
  coord.floor = BigInt(plan.data.ranges[lowest]!.lo);
  return coord;
}

/**
 * The next range for a search reader: one a crashed run left part-way, else the highest one not
 * taken, as long as the list has not read into it (the list covers everything below the lowest
 * range taken). The claim is written before the list may stop at it, so a crash in between never
 * leaves a range that neither reads. Null when nothing is left.
 */
async function claimRange(deps: SyncContext, objectType: string, coord: Coordination): Promise<number | null> {
  const resumed = coord.resume.shift();
  if (resumed !== undefined) return resumed;
  if (!coord.plan || coord.listDone || !coord.ordered || coord.nextIndex < 0) return null;
  const i = coord.nextIndex;
  const lo = BigInt(coord.plan.ranges[i]!.lo);
  if (lo <= coord.listLast) return null;
  coord.nextIndex = i - 1;
  const progress: RangeState = { afterId: String(lo - 1n), pages: 0, done: false };
  await writeCursor(deps.pool, objectType, rangeStream(i), progress);
  coord.progress.set(i, progress);
  coord.floor = coord.floor === null || lo < coord.floor ? lo : coord.floor;
  return i;
}

/**
 * Splits a large type's ids into ranges of about `rangeRecords` records (ids spread evenly enough
 * between the lowest and the highest: a range that holds more only takes longer). Two searches of
 * one hit each, on the search budget; [] for a type the list reads alone.
 */
async function planRanges(deps: SyncContext, target: PullTarget, opts: BackfillOptions): Promise<RangePlan> {
  const plan: RangePlan = { ranges: [] };
  const edge = (direction: "ASCENDING" | "DESCENDING") =>
    deps.hubspot.search(target.apiName, { filterGroups: [], sorts: [{ propertyName: "hs_object_id", direction }], properties: ["hs_object_id"], limit: 1 });
  try {
    const first = await edge("ASCENDING");
    if (first.total >= (opts.splitMinRecords ?? DEFAULT_SPLIT_MIN_RECORDS) && first.results[0]) {
      const last = (await edge("DESCENDING")).results[0];
      if (last) {
        const lo = BigInt(first.results[0].id);
        const n = BigInt(Math.max(1, Math.ceil(first.total / (opts.rangeRecords ?? DEFAULT_RANGE_RECORDS))));
        const width = (BigInt(last.id) - lo + n) / n;
        for (let i = 0n; i < n; i++) plan.ranges.push({ lo: String(lo + i * width), hi: i === n - 1n ? null : String(lo + (i + 1n) * width) });
      }
    }
  } catch (err) {
    if (err instanceof PausedError) throw err;
    // Search is a second channel, not a requirement: the list alone copies everything.
    deps.log.warn({ objectType: target.objectType, err: err instanceof Error ? err.message : String(err) }, "could not plan search ranges; the list reads the whole type");
  }
  await writeCursor(deps.pool, target.objectType, PLAN_STREAM, plan);
  return plan;
}

/** One page of a range: ids above `afterId` (and below the range's end), ascending. */
function rangeQuery(range: { hi: string | null }, afterId: string, properties: string[], after?: string): SearchRequest {
  return {
    filterGroups: [{ filters: [
      { propertyName: "hs_object_id", operator: "GT", value: afterId },
      ...(range.hi !== null ? [{ propertyName: "hs_object_id", operator: "LT", value: range.hi }] : []),
    ] }],
    sorts: [{ propertyName: "hs_object_id", direction: "ASCENDING" }],
    properties,
    limit: SEARCH_PAGE,
    ...(after !== undefined ? { after } : {}),
  };
}

/**
 * Reads one range to its end, page by page, each page a new query from the highest id written
 * (keyset): search may answer a short or empty page that still points further, repeat a record,
 * or return hits out of order; sorting each page by id and starting the next query after its
 * highest id makes none of that lose a record. The next search is sent while this page's records
 * are fetched and written.
 */
async function readRange(
  deps: SyncContext,
  target: PullTarget,
  opts: BackfillOptions,
  coord: Coordination,
  index: number,
  width: SearchWidth,
  counts: ApplyCounts,
  stats: Stats,
  stopped: () => boolean,
): Promise<void> {
  const range = coord.plan!.ranges[index]!;
  let progress: RangeState = coord.progress.get(index) ?? { afterId: String(BigInt(range.lo) - 1n), pages: 0, done: false };
  if (progress.done) return;
  if (progress.pages > 0) stats.resumedRanges++;
  stats.rangesRead++;
  type Held = SearchPage & { release: () => void };
  // a page that carries the records (or the first one, which tries to) needs room for them;
  // ids alone weigh nothing worth counting
  const searchPage = (afterId: string, after?: string): Promise<Held> =>
    readHeld(width.full || width.probe ? pageValues(SEARCH_PAGE, target.allProperties.length) : 0, () =>
      searchWithWidth(deps, target.apiName, width, (properties) => rangeQuery(range, afterId, properties, after), target.allProperties, ["hs_object_id"], () => stats.searchPages++),
    );
  let pending: Promise<Held> | null = searchPage(progress.afterId);
  pending.catch(() => {});
  let empty = 0;
  try {
    while (!stopped()) {
      const page: Held = await pending!;
      pending = null;
      let release = page.release;
      try {
        stats.searchPages++;
        const hits = [...page.results].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0));
        const last = hits[hits.length - 1];
        if (!last) {
          if (!page.nextAfter) {
            progress = { ...progress, done: true };
            await writeCursor(deps.pool, target.objectType, rangeStream(index), progress);
            return;
          }
          if (++empty > MAX_EMPTY_PAGES) throw new Error(`search for ${target.objectType} answered ${empty} empty pages in a row that still point further (range from ${range.lo}); the next run resumes the range where it stopped`);
          pending = searchPage(progress.afterId, page.nextAfter);
          // a search left unread when another reader fails must not fail the process later
          pending.catch(() => {});
          continue;
        }
        empty = 0;
        if (page.nextAfter) {
          pending = searchPage(last.id);
          pending.catch(() => {});
        }
        stats.searchMode = width.full ? "records" : "ids+batch-read";
        let records: CrmRecord[] = hits;
        if (!width.full) {
          const ids = [...new Set(hits.map((h) => h.id))];
          release();
          release = await holdPage(ids.length, target.allProperties.length);
          const reads = await Promise.all(chunk(ids, 100).map((part) => deps.hubspot.batchRead(target.apiName, part, target.allProperties)));
          records = reads.flatMap((r) => r.results);
          stats.missing += reads.reduce((n, r) => n + r.missing.length, 0);
        }
        const next: RangeState = { afterId: last.id, pages: progress.pages + 1, done: !page.nextAfter };
        await inApplyingTransaction(deps.pool, async (client) => {
          addCounts(counts, await applyRecords(client, target, records));
          await writeCursor(client, target.objectType, rangeStream(index), next);
        });
        progress = next;
        stats.searchRecords += new Set(records.map((r) => r.id)).size;
      } finally {
        release();
      }
      await opts.onSearchPage?.(index, progress.pages);
      if (progress.done) return;
    }
  } finally {
    // a page read ahead and never written (the range stopped or failed) gives its room back
    void (pending as Promise<Held> | null)?.then((p) => p.release(), () => {});
  }
}

/** The list reader: pages from the lowest id up until its end or the search ranges. */
function listReader(
  deps: SyncContext,
  target: PullTarget,
  opts: BackfillOptions,
  initial: BackfillState,
  coord: Coordination,
  counts: ApplyCounts,
  stopped: () => boolean,
  /** Called once the list has read a few pages and has more, or has stopped. */
  underWay: () => void,
  /** Writes the associations the list's pages embed. */
  embed: EmbeddedWriter,
) {
  const objectType = target.objectType;
  const pageSize = Math.min(opts.pageSize ?? 100, 100);
  let state = initial;
  let missing = 0;
  let direct = true;
  const associations = embed.toTypes;
  const queryChars = propertyQueryLength(target.allProperties) + (associations.length ? new URLSearchParams(associations.map((t): [string, string] => ["associations", t])).toString().length + 1 : 0);
  type Read = { ids: string[]; records: CrmRecord[]; nextAfter: string | null; missing: number; associations?: ListPage["associations"] };
  /** A page read and not yet written: `release` gives its room in the page memory back. */
  type Page = Read & { release: () => void };
  const fetchPage = (after: string | null): Promise<Page> => readHeld(pageValues(pageSize, target.allProperties.length), () => readPage(after));
  const readPage = async (after: string | null): Promise<Read> => {
    if (direct) {
      try {
        const page = await deps.hubspot.listPage(target.apiName, { after, limit: pageSize, properties: target.allProperties, associations });
        return { ids: page.results.map((r) => r.id), records: page.results, nextAfter: page.nextAfter, missing: 0, associations: page.associations };
      } catch (err) {
        if (!(err instanceof HubSpotError) || err.status !== 414) throw err;
        // This portal's limit is lower than the budget: remember it, and read by id from here on.
        const budget = await rememberUrlRefused(deps.pool, queryChars);
        deps.log.warn({ objectType, queryChars, budget }, "HubSpot answered 414 to the property list: reading records by id and batch read");
        direct = false;
      }
    }
    const page = await deps.hubspot.listPage(target.apiName, { after, limit: pageSize, properties: ["hs_object_id", target.lastModifiedProperty], associations });
    const ids = page.results.map((r) => r.id);
    const read = await deps.hubspot.batchRead(target.apiName, ids, target.allProperties);
    return { ids, records: read.results, nextAfter: page.nextAfter, missing: read.missing.length, associations: page.associations };
  };
  return {
    state: () => state,
    missing: () => missing,
    mode: () => (direct ? "list" : "ids+batch-read"),
    async run() {
      try {
        await this.loop();
      } finally {
        underWay();
      }
    },
    async loop() {
      direct = queryChars <= (opts.maxPropertyQueryChars ?? (await urlBudget(deps.pool)));
      if (state.listDone) return;
      let pending: Promise<Page> | null = fetchPage(state.after);
      pending.catch(() => {});
      // Embedded associations are written one page after another, beside the next page's records
      // rather than before them; the last one is waited for before the list is done.
      let embedding: Promise<void> = Promise.resolve();
      try {
        for (let pages = 1; ; pages++) {
          const page: Page = await pending!;
          pending = null;
          try {
            if (stopped()) return void (await embedding.catch(() => {}));
            if (pages >= PLAN_AFTER_PAGES) underWay();
            let ordered = state.ordered;
            let top = state.lastId === null ? -1n : BigInt(state.lastId);
            for (const id of page.ids) {
              const n = BigInt(id);
              if (n <= top) ordered = false;
              else top = n;
            }
            if (!ordered && state.ordered) deps.log.warn({ objectType }, "the list's pages are not in id order: the list reads to the end beside the search ranges");
            // reached a range a search reader has (everything below it is on this page or earlier)
            const metRanges = ordered && coord.floor !== null && top >= coord.floor;
            const done = !page.nextAfter || metRanges;
            if (!done) {
              // the next page travels while this one is written (a crash costs at most that one page again)
              pending = fetchPage(page.nextAfter);
              pending.catch(() => {});
            }
            missing += page.missing;
            const next: BackfillState = {
              ...state,
              after: page.nextAfter,
              pages: state.pages + 1,
              records: state.records + page.records.length,
              lastId: top >= 0n ? String(top) : null,
              ordered,
              listDone: done,
            };
            await inApplyingTransaction(deps.pool, async (client) => {
              addCounts(counts, await applyRecords(client, target, page.records));
              await writeCursor(client, objectType, "backfill", next);
            });
            // one page's associations at most wait to be written: when their writes are slower
            // than the pages, the list waits for them rather than piling pages up in memory
            await embedding;
            embedding = embed.apply(
              page.records.map((r) => r.id),
              page.associations,
            );
            embedding.catch(() => {});
            state = next;
            coord.listLast = top;
            coord.ordered = ordered;
            coord.listDone = done;
          } finally {
            page.release();
          }
          await opts.onPage?.(state.pages);
          if (state.listDone) return void (await embedding);
        }
      } finally {
        // a page read ahead and never written (the list stopped or failed) gives its room back
        void (pending as Promise<Page> | null)?.then((p) => p.release(), () => {});
      }
    },
  };
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function deleteRangeCursors(db: pg.Pool | pg.PoolClient, objectType: string): Promise<void> {
  await db.query(`delete from hubsync.cursors where object_type = $1 and (stream = $2 or stream like 'backfill-range:%')`, [objectType, PLAN_STREAM]);
}

async function startLive(deps: SyncContext, objectType: string): Promise<void> {
  await setPhase(deps.pool, objectType, "live");
}
