import type pg from "pg";
import type { HubSpotApi } from "../hubspot/client.ts";
import { inApplyingTransaction } from "../db/transaction.ts";
import type { SyncContext } from "../context.ts";
import { quoteIdent } from "../schema/naming.ts";
import type { AssociationPair } from "./pairs.ts";
import { BATCH_READ_LIMIT, readAssociations, sortedTypeIds, type Edges } from "./read.ts";
import { learnTypeMap } from "./type-map.ts";
import { defaultTypeMap, defaultTypes } from "./default-types.ts";

/** Which end's ids a read starts from: a (a→b ids as they are) or b (b→a ids, translated). */
export type Side = "a" | "b";

export interface ChangeCounts {
  inserted: number;
  updated: number;
  deleted: number;
}

export function noChanges(): ChangeCounts {
  return { inserted: 0, updated: 0, deleted: 0 };
}

function addChanges(into: ChangeCounts, more: ChangeCounts): void {
  into.inserted += more.inserted;
  into.updated += more.updated;
  into.deleted += more.deleted;
}

/** The worker is stopping: the pass ends between chunks (what was applied stays; the next sweep reads the rest). */
export class SweepStopped extends Error {
  constructor(table: string) {
    super(`${table}: stopped between chunks (worker shutting down)`);
    this.name = "SweepStopped";
  }
}

/** The b end's ids cannot be translated to a→b type ids (see type-map.ts): read from a instead. */
export class TypeMapUnresolved extends Error {
  constructor(table: string) {
    super(`${table}: association type ids could not be matched to their inverses; reading from the other end`);
    this.name = "TypeMapUnresolved";
  }
}

/** One row of an association table: a pair of records with the a→b type ids and their labels. */
export interface Row {
  a: string;
  b: string;
  labels: string[];
  type_ids: number[];
}

/** What one pass over a pair needs besides the ids: the a→b labels by type id when reading from b. */
export interface PassContext {
  side: Side;
  /** a→b type id → label (null when unlabeled); only read from b. */
  labels?: Map<number, string | null>;
  /** The labels were read again during this pass already (an id missing from them is then taken as unlabeled). */
  labelsReread?: boolean;
  /** Associations per record the reads of this pass found (sizes the next read; none yet: a probe). */
  perRecord?: number;
  /** At most this many associations are read before they are written (default EDGES_PER_READ). */
  edgesPerRead?: number;
}

/**
 * Associations one read brings back before they are written. A batch read takes 1,000 records,
 * and HubSpot answers each with a page of associations (ASSOCIATIONS_PER_PAGE), then more pages: read from the end
 * with fewer records (a few thousand companies of a million contacts), 1,000 records can carry
 * hundreds of thousands of associations. Held at once (the answer, its parsed copy, the rows and
 * their JSON for the upsert), that ran the worker out of its heap at the end of a million-contact
 * backfill. About a kilobyte each while held: 20,000 is some 20 MB per read.
 */
export const EDGES_PER_READ = 20_000;

/**
 * One record's page of associations: HubSpot gives 500 a call on the single-record read, and the
 * batch read pages each record (`paging.next.after` per input); 500 is taken for both.
 * The first read of a pass takes as many records as their pages can fill the read's share with, and
 * what its answer finds per record sizes the reads after it. The table's rows cannot size it alone:
 * they may hold only what the other end's pages embedded so far (one row per company for the
 * contacts read yet, while each company has hundreds).
 */
const ASSOCIATIONS_PER_PAGE = 500;

/**
 * Label definitions rarely change, and every refresh and webhook apply reading from the b end needs
 * them: each client keeps them per pair this long. A type id not among them makes the caller read
 * them again at once (`fresh`), so a label created meanwhile is never missed; a renamed one shows
 * within this time.
 */
const LABELS_TTL_MS = 5 * 60 * 1000;
const labelCache = new WeakMap<HubSpotApi, Map<string, { at: number; labels: Map<number, string | null> }>>();

/** Current a→b labels of the pair (the labels API), for rows read from the b end. */
export async function labelsOf(api: HubSpotApi, pair: AssociationPair, opts: { fresh?: boolean } = {}): Promise<Map<number, string | null>> {
  let cache = labelCache.get(api);
  if (!cache) labelCache.set(api, (cache = new Map()));
  const hit = cache.get(pair.table);
  if (hit && !opts.fresh && Date.now() - hit.at < LABELS_TTL_MS) return hit.labels;
  const at = Date.now();
  const defs = await api.associationLabels(pair.a.objectTypeId, pair.b.objectTypeId);
  const labels = new Map(defs.map((d) => [d.typeId, d.label ?? null]));
  cache.set(pair.table, { at, labels });
  return labels;
}

/** The end a pass reads ids from, the type it reads toward, and the column its ids are in. */
export function sideOf(pair: AssociationPair, side: Side) {
  return side === "a"
    ? { from: pair.a, to: pair.b, column: pair.aColumn }
    : { from: pair.b, to: pair.a, column: pair.bColumn };
}

/**
 * Reads the associations of `ids` (records of the pass's side) and makes the table say the same for
 * them, in one transaction: new pairs inserted, gone pairs deleted, changed labels/type ids updated.
 * Pairs with a local change still waiting in the outbox, and rows whose end is a local record not
 * yet created in HubSpot, are left alone (the push settles them).
 */
export async function syncIds(deps: SyncContext, pair: AssociationPair, ctx: PassContext, ids: string[]): Promise<ChangeCounts & { associations: number }> {
  const { from, to, column } = sideOf(pair, ctx.side);
  const total = { ...noChanges(), associations: 0 };
  // rows the table holds per id, read once (after a probe, which needs none)
  let held: Map<string, number> | null = null;
  let rest = ids;
  while (rest.length > 0) {
    if (ctx.perRecord !== undefined) held ??= await rowsPerId(deps.pool, pair.table, column, rest);
    const part = nextPart(ctx, rest, held);
    rest = rest.slice(part.length);
    const edges = await readAssociations(deps.hubspot, from.objectTypeId, to.objectTypeId, part);
    const rows = ctx.side === "a" ? rowsFromA(edges) : await rowsFromB(deps, pair, edges, ctx);
    // a read of small records after large ones halves what is expected, rather than forgetting them
    ctx.perRecord = Math.max(rows.length / part.length, (ctx.perRecord ?? 0) / 2);
    addChanges(total, await applyRows(deps.pool, pair, ctx.side, part, rows));
    total.associations += rows.length;
  }
  return total;
}

async function rowsPerId(pool: pg.Pool, table: string, column: string, ids: string[]): Promise<Map<string, number>> {
  const c = quoteIdent(column);
  const { rows } = await pool.query<{ id: string; n: number }>(
    `select ${c} as id, count(*)::int as n from hubspot.${quoteIdent(table)} where ${c} = any($1::text[]) group by 1`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.n]));
}

/**
 * The first of `ids` whose associations, as far as anything tells, stay within one read's share
 * (at least one record): each counts what the table holds for it (`held`), or what the pass's
 * reads found per record if that is more. Before any read of the pass, a probe.
 */
function nextPart(ctx: PassContext, ids: string[], held: Map<string, number> | null): string[] {
  const budget = ctx.edgesPerRead ?? EDGES_PER_READ;
  if (ctx.perRecord === undefined || !held) return ids.slice(0, Math.max(1, Math.floor(budget / ASSOCIATIONS_PER_PAGE)));
  let sum = 0;
  let n = 0;
  for (const id of ids.slice(0, BATCH_READ_LIMIT)) {
    sum += Math.max(held.get(id) ?? 0, ctx.perRecord, 1);
    if (n > 0 && sum > budget) break;
    n++;
  }
  return ids.slice(0, n);
}

function rowsFromA(edges: Edges): Row[] {
  const rows: Row[] = [];
  for (const [a, targets] of edges) {
    for (const [b, types] of targets) {
      const ids = sortedTypeIds(types);
      rows.push({ a, b, type_ids: ids, labels: labelsFor(ids, new Map(types.map((t) => [t.typeId, t.label ?? null]))) });
    }
  }
  return rows;
}

async function rowsFromB(deps: SyncContext, pair: AssociationPair, edges: Edges, ctx: PassContext): Promise<Row[]> {
  const known = { ...defaultTypeMap(pair), ...pair.typeMap };
  const map = (await learnTypeMap(deps.hubspot, pair, edges, known)) ?? (await learnFromWiderSample(deps, pair, edges, known));
  if (!map) throw new TypeMapUnresolved(pair.table);
  if (Object.keys(map).length !== Object.keys(pair.typeMap).length) {
    pair.typeMap = map;
    await deps.pool.query(`update hubsync.association_pairs set type_map = $2 where table_name = $1`, [pair.table, JSON.stringify(map)]);
  }
  // HubSpot's default types need no labels read; the portal's labels are read once another id shows
  let labels = ctx.labels ?? defaultTypes(pair)?.labels ?? (ctx.labels = await labelsOf(deps.hubspot, pair));
  const rows: Row[] = [];
  for (const [b, targets] of edges) {
    for (const [a, types] of targets) {
      const ids = [...new Set(sortedTypeIds(types).map((t) => map[String(t)]!))].sort((x, y) => x - y);
      if (!ctx.labels && ids.some((id) => !labels.has(id))) labels = ctx.labels = await labelsOf(deps.hubspot, pair);
      if (!ctx.labelsReread && ids.some((id) => !labels.has(id))) {
        // a label created since the pass began
        labels = ctx.labels = await labelsOf(deps.hubspot, pair, { fresh: true });
        ctx.labelsReread = true;
      }
      rows.push({ a, b, type_ids: ids, labels: labelsFor(ids, labels) });
    }
  }
  return rows;
}

/**
 * A few ids (a refresh after a pull) may all carry the same types, which says nothing about which
 * id is which one's inverse. Then up to 1,000 b records the table already has associations for are
 * read as well (one call, once: the map is kept) to learn from.
 */
async function learnFromWiderSample(deps: SyncContext, pair: AssociationPair, edges: Edges, known: Record<string, number>): Promise<Record<string, number> | null> {
  const { rows } = await deps.pool.query<{ id: string }>(
    `select ${quoteIdent(pair.bColumn)} as id from hubspot.${quoteIdent(pair.table)} group by 1 order by count(distinct type_ids) desc, 1 limit $1`,
    [BATCH_READ_LIMIT],
  );
  const read = new Set(edges.keys());
  const more = rows.map((r) => r.id).filter((id) => !read.has(id));
  if (more.length === 0) return null;
  const wider: Edges = new Map([...edges, ...(await readAssociations(deps.hubspot, pair.b.objectTypeId, pair.a.objectTypeId, more))]);
  return learnTypeMap(deps.hubspot, pair, wider, known);
}

export function labelsFor(typeIds: number[], labelOf: Map<number, string | null>): string[] {
  return [...new Set(typeIds.map((id) => labelOf.get(id)).filter((l): l is string => typeof l === "string" && l !== ""))];
}

/**
 * Makes the table say `rows` about the records `ids` of one side (their other rows go), as one
 * statement in one (applying) transaction.
 */
export async function applyRows(pool: pg.Pool, pair: AssociationPair, side: Side, ids: string[], rows: Row[]): Promise<ChangeCounts> {
  const t = `hubspot.${quoteIdent(pair.table)}`;
  const a = quoteIdent(pair.aColumn);
  const b = quoteIdent(pair.bColumn);
  const scope = side === "a" ? a : b;
  return inApplyingTransaction(pool, async (client) => {
    await client.query(`select pg_advisory_xact_lock(hashtext('hubsync.associations:' || $1))`, [pair.table]);
    const { rows: out } = await client.query<{ deleted: number; inserted: number; updated: number }>(
      `with fetched as (
         select distinct on (x.a, x.b) x.a, x.b, x.labels, x.type_ids
           from jsonb_to_recordset($2::jsonb) as x(a text, b text, labels text[], type_ids integer[])
       ),
       waiting as (
         select o.changes ->> 'from' as a, o.changes ->> 'to' as b from hubsync.outbox o
          where o.status in ('pending', 'in_flight') and o.op in ('associate', 'unassociate') and o.changes ->> 'table' = $3
       ),
       del as (
         delete from ${t} t
          where t.${scope} = any($1::text[])
            and t.${a} ~ '^[0-9]+$' and t.${b} ~ '^[0-9]+$'  -- an end that is a local record's _sync_local_id waits for write-back
            and not exists (select 1 from fetched f where f.a = t.${a} and f.b = t.${b})
            and not exists (select 1 from waiting w where w.a = t.${a} and w.b = t.${b})
         returning 1
       ),
       ins as (
         insert into ${t} as t (${a}, ${b}, labels, type_ids)
         select f.a, f.b, f.labels, f.type_ids from fetched f
          where not exists (select 1 from waiting w where w.a = f.a and w.b = f.b)
         on conflict (${a}, ${b}) do update set labels = excluded.labels, type_ids = excluded.type_ids
          where (t.labels, t.type_ids) is distinct from (excluded.labels, excluded.type_ids)
         returning (xmax = 0) as inserted
       )
       select (select count(*) from del)::int as deleted,
              (select count(*) filter (where inserted) from ins)::int as inserted,
              (select count(*) filter (where not inserted) from ins)::int as updated`,
      [ids, JSON.stringify(rows), pair.table],
    );
    return out[0]!;
  });
}

/**
 * Live local records of one end, in id order, `size` at a time (keyset: no offset, no snapshot held);
 * with `since`, only those a pull wrote after that time (hubsync's clock).
 */
export async function* localIds(pool: pg.Pool, table: string, size = BATCH_READ_LIMIT, since?: string): AsyncGenerator<string[]> {
  let last = "";
  for (;;) {
    const { rows } = await pool.query<{ id: string }>(
      `select id from hubspot.${quoteIdent(table)}
        where id is not null and archived_at is null and id > $1 and ($3::timestamptz is null or _sync_updated_at > $3)
        order by id limit $2`,
      [last, size, since ?? null],
    );
    if (rows.length === 0) return;
    yield rows.map((r) => r.id);
    last = rows[rows.length - 1]!.id;
    if (rows.length < size) return;
  }
}

/**
 * Ids the table names on one side that are not live local records of that side's type: mostly
 * records HubSpot deleted or merged away before any pull brought them, whose rows came from reads
 * of the other end. A pass over the live records never reads them, so their rows would outlive
 * them; reading them too lets HubSpot's answer (by then usually nothing) decide.
 */
export async function strayIds(pool: pg.Pool, pair: AssociationPair, side: Side, size = BATCH_READ_LIMIT): Promise<string[][]> {
  const column = quoteIdent(side === "a" ? pair.aColumn : pair.bColumn);
  const { rows } = await pool.query<{ id: string }>(
    `select distinct t.${column} as id from hubspot.${quoteIdent(pair.table)} t
      where t.${column} ~ '^[0-9]+$'  -- a local record's _sync_local_id waits for write-back
        and not exists (select 1 from hubspot.${quoteIdent(sideOf(pair, side).from.table)} r where r.id = t.${column} and r.archived_at is null)
      order by 1`,
  );
  const chunks: string[][] = [];
  for (let i = 0; i < rows.length; i += size) chunks.push(rows.slice(i, i + size).map((r) => r.id));
  return chunks;
}

/** The records a same-type table pairs `ids` with (the rows from them), for reading both directions. */
export async function otherEnds(deps: SyncContext, pair: AssociationPair, ids: string[]): Promise<string[]> {
  const { rows } = await deps.pool.query<{ id: string }>(
    `select distinct ${quoteIdent(pair.bColumn)} as id from hubspot.${quoteIdent(pair.table)} where ${quoteIdent(pair.aColumn)} = any($1::text[])`,
    [ids],
  );
  return rows.map((r) => r.id);
}

/** Live local records of a table (the side with fewer is read). */
export async function liveCount(pool: pg.Pool, table: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`select count(*) as n from hubspot.${quoteIdent(table)} where id is not null and archived_at is null`);
  return Number(rows[0]!.n);
}

/**
 * One full pass over a pair: every live local record of the end with fewer of them, up to 1,000 per
 * batch call (syncIds sizes them), each read diffed in its own transaction, then the ids of that end the table names
 * without a live local record (strayIds). Rows of records deleted locally went with
 * them (triggers, sql/50_associations.sql).
 * Falls back to the a end when the b end's type ids cannot be translated.
 */
export async function syncPair(deps: SyncContext, pair: AssociationPair, opts: { side?: Side; signal?: AbortSignal; edgesPerRead?: number } = {}): Promise<ChangeCounts & { side: Side; ids: number; associations: number }> {
  let side: Side = opts.side ?? (pair.sameType ? "a" : (await liveCount(deps.pool, pair.b.table)) < (await liveCount(deps.pool, pair.a.table)) ? "b" : "a");
  for (;;) {
    const counts = noChanges();
    let ids = 0;
    let associations = 0;
    const ctx: PassContext = { side, edgesPerRead: opts.edgesPerRead };
    try {
      const read = async (chunk: string[]) => {
        if (opts.signal?.aborted) throw new SweepStopped(pair.table);
        const r = await syncIds(deps, pair, ctx, chunk);
        addChanges(counts, r);
        ids += chunk.length;
        associations += r.associations;
      };
      for await (const chunk of localIds(deps.pool, sideOf(pair, side).from.table)) await read(chunk);
      for (const chunk of await strayIds(deps.pool, pair, side)) await read(chunk);
    } catch (err) {
      if (err instanceof TypeMapUnresolved && side === "b") {
        deps.log.info({ table: pair.table }, err.message);
        side = "a";
        continue;
      }
      throw err;
    }
    return { ...counts, side, ids, associations };
  }
}
