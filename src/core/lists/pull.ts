import type pg from "pg";
import { z } from "zod";
import type { SyncContext } from "../context.ts";
import { inApplyingTransaction, type Queryable } from "../db/transaction.ts";
import { HubSpotError } from "../hubspot/errors.ts";
import { writeCursor } from "../schema/cursors.ts";
import { STANDARD_OBJECT_TYPES } from "../schema/object-catalog.ts";
import { readAllLists, readListsById, readMembersPage, type ListDetail, type ListSummary } from "./api.ts";

/** The object type name hubsync.enable_sync takes for lists, and their rows' object_type in hubsync.outbox. */
export const LISTS = "lists";

/**
 * Where a list's members were last read to, in hubsync.cursors (object type 'lists', stream
 * `members:<list id>`): the cursor of the last join-order page read (null: the first page) and
 * HubSpot's hs_last_record_added_at / hs_last_record_removed_at as they were then.
 */
const MembersCursor = z.object({ after: z.string().nullable(), addedAt: z.string().nullable(), removedAt: z.string().nullable() });
type MembersCursor = z.infer<typeof MembersCursor>;
const streamOf = (listId: string) => `members:${listId}`;

export interface ListPullOptions {
  /** Read every list's members in full (the sweep), not only what changed. */
  full?: boolean;
}

export interface ListPullResult {
  records: number;
  details: { lists: number; definitionsRead: number; deleted: number; fullReads: number; incrementalReads: number; added: number; removed: number };
}

interface LocalList {
  list_id: string;
  name: string;
  processing_type: string;
  list_version: number | null;
  filters_updated_at: Date | null;
  deleted_at: Date | null;
}

const ms = (v: string | Date | null | undefined): number | null => (v === null || v === undefined ? null : new Date(v).getTime());

/**
 * One pass over HubSpot's lists. Lists are read by update: each pass lists every list (one call per
 * 500), and reads the definition (filters, size) only of those new or changed since. Members are
 * read in join order from where the last pass stopped, for the lists HubSpot says gained a record
 * since (hs_last_record_added_at). The join-order listing cannot show removals, so a list HubSpot
 * says lost a record (hs_last_record_removed_at), or whose size still differs after the new
 * members came in, is read again in full and compared; so is every list in a sweep (`full`).
 * Lists HubSpot no longer lists are read by id: deleted ones get deleted_at and lose their rows.
 *
 * Local membership changes still waiting in the outbox, or sent after this pass began reading,
 * win over what it read: the pass read HubSpot before they reached it.
 */
export async function pullLists(deps: SyncContext, opts: ListPullOptions = {}): Promise<ListPullResult> {
  const api = deps.hubspot;
  const readFrom = new Date();
  const details: ListPullResult["details"] = { lists: 0, definitionsRead: 0, deleted: 0, fullReads: 0, incrementalReads: 0, added: 0, removed: 0 };
  const summaries = await readAllLists(api);
  details.lists = summaries.length;
  const { rows: local } = await deps.pool.query<LocalList>(`select list_id, name, processing_type, list_version, filters_updated_at, deleted_at from hubspot.lists`);
  const held = new Map(local.map((l) => [l.list_id, l]));
  const stale = summaries.filter((s) => {
    const l = held.get(s.listId);
    return !l || l.deleted_at !== null || l.name !== s.name || l.processing_type !== s.processingType || (l.list_version ?? null) !== (s.listVersion ?? null) || ms(l.filters_updated_at) !== ms(s.filtersUpdatedAt);
  });
  const fresh = await readListsById(api, stale.map((s) => s.listId));
  details.definitionsRead = fresh.length;
  const seen = new Set(summaries.map((s) => s.listId));
  const vanished = local.filter((l) => l.deleted_at === null && !seen.has(l.list_id)).map((l) => l.list_id);
  const gone = new Map((await readListsById(api, vanished)).map((l) => [l.listId, l]));
  const names = await objectTypeNames(deps.pool);

  await inApplyingTransaction(deps.pool, async (client) => {
    await upsertDefinitions(client, fresh.filter((d) => !d.deletedAt), names);
    await client.query(
      `update hubspot.lists t set size = x.size, updated_at = x.updated_at, _sync_updated_at = now()
         from jsonb_to_recordset($1::jsonb) as x(list_id text, size bigint, updated_at timestamptz)
        where t.list_id = x.list_id and (t.size, t.updated_at) is distinct from (x.size, x.updated_at)`,
      [JSON.stringify(summaries.map((s) => ({ list_id: s.listId, size: sizeOf(s), updated_at: s.updatedAt ?? null })))],
    );
    if (vanished.length > 0) {
      const deletedAt = vanished.map((id) => gone.get(id)?.deletedAt ?? new Date().toISOString());
      await client.query(
        `update hubspot.lists t set deleted_at = x.deleted_at, size = 0, _sync_updated_at = now()
           from unnest($1::text[], $2::timestamptz[]) as x(list_id, deleted_at) where t.list_id = x.list_id`,
        [vanished, deletedAt],
      );
      await client.query(`delete from hubspot.list_memberships where list_id = any ($1::text[])`, [vanished]);
      await client.query(`delete from hubsync.cursors where object_type = $1 and stream = any ($2::text[])`, [LISTS, vanished.map(streamOf)]);
      details.deleted = vanished.length;
    }
  });

  const cursors = await readMembersCursors(deps.pool);
  const counts = await memberCounts(deps.pool);
  for (const s of summaries) {
    const addedAt = s.additionalProperties?.hs_last_record_added_at ?? null;
    const removedAt = s.additionalProperties?.hs_last_record_removed_at ?? null;
    const size = sizeOf(s);
    const cursor = cursors.get(s.listId);
    let full = opts.full === true || !cursor || cursor.removedAt !== removedAt;
    let after: string | null = cursor?.after ?? null;
    if (!full && cursor!.addedAt === addedAt && (size === null || counts.get(s.listId) === size)) continue;
    if (!full) {
      details.incrementalReads++;
      try {
        const r = await readMembers(deps, s.listId, after, readFrom, null);
        details.added += r.added;
        after = r.lastPageAfter;
        // a member left as others joined: only a full read shows which
        if (size !== null && (await memberCount(deps.pool, s.listId)) !== size) full = true;
      } catch (err) {
        // a cursor HubSpot no longer takes: read the list from its start instead
        if (!(err instanceof HubSpotError && err.status === 400)) throw err;
        deps.log.warn({ listId: s.listId, err: err.message }, "list members cursor refused; reading the list in full");
        full = true;
      }
    }
    if (full) {
      details.fullReads++;
      const r = await readMembers(deps, s.listId, null, readFrom, new Set());
      details.added += r.added;
      details.removed += r.removed;
      after = r.lastPageAfter;
    }
    await writeCursor(deps.pool, LISTS, streamOf(s.listId), { after, addedAt, removedAt } satisfies MembersCursor);
  }
  return { records: details.definitionsRead + details.deleted + details.added + details.removed, details };
}

function sizeOf(s: ListSummary | ListDetail): number | null {
  if ("size" in s && typeof s.size === "number") return s.size;
  const raw = s.additionalProperties?.hs_list_size;
  return raw === null || raw === undefined || raw === "" ? null : Number(raw);
}

/** objectTypeId → the name hubsync uses for it (standard types, and custom objects hubsync has discovered). */
export async function objectTypeNames(db: Queryable): Promise<Map<string, string>> {
  const out = new Map(Object.entries(STANDARD_OBJECT_TYPES).map(([name, t]) => [t.objectTypeId, name]));
  const { rows } = await db.query<{ object_type: string; object_type_id: string }>(`select object_type, object_type_id from hubsync.objects where object_type_id is not null`);
  for (const r of rows) out.set(r.object_type_id, r.object_type);
  return out;
}

export async function upsertDefinitions(client: pg.PoolClient, lists: ListDetail[], names: Map<string, string>): Promise<void> {
  if (lists.length === 0) return;
  const rows = lists.map((l) => ({
    list_id: l.listId,
    name: l.name,
    object_type_id: l.objectTypeId,
    object_type: names.get(l.objectTypeId) ?? null,
    processing_type: l.processingType,
    processing_status: l.processingStatus ?? null,
    size: sizeOf(l),
    filters: l.filterBranch ?? null,
    list_version: l.listVersion ?? null,
    created_at: l.createdAt ?? null,
    updated_at: l.updatedAt ?? null,
    filters_updated_at: l.filtersUpdatedAt ?? null,
  }));
  await client.query(
    `insert into hubspot.lists as t (list_id, name, object_type_id, object_type, processing_type, processing_status, size, filters, list_version,
                                     created_at, updated_at, filters_updated_at, deleted_at)
     select list_id, name, object_type_id, object_type, processing_type, processing_status, size, filters, list_version,
            created_at, updated_at, filters_updated_at, null
       from jsonb_to_recordset($1::jsonb) as x(list_id text, name text, object_type_id text, object_type text, processing_type text,
            processing_status text, size bigint, filters jsonb, list_version integer, created_at timestamptz, updated_at timestamptz,
            filters_updated_at timestamptz)
     on conflict (list_id) do update
        set name = excluded.name, object_type_id = excluded.object_type_id, object_type = excluded.object_type,
            processing_type = excluded.processing_type, processing_status = excluded.processing_status, size = excluded.size,
            filters = excluded.filters, list_version = excluded.list_version, created_at = excluded.created_at,
            updated_at = excluded.updated_at, filters_updated_at = excluded.filters_updated_at, deleted_at = null, _sync_updated_at = now()`,
    [JSON.stringify(rows)],
  );
}

async function readMembersCursors(db: Queryable): Promise<Map<string, MembersCursor>> {
  const { rows } = await db.query<{ stream: string; state: unknown }>(`select stream, state from hubsync.cursors where object_type = $1 and stream like 'members:%'`, [LISTS]);
  const out = new Map<string, MembersCursor>();
  for (const r of rows) {
    const c = MembersCursor.safeParse(r.state);
    if (c.success) out.set(r.stream.slice("members:".length), c.data);
  }
  return out;
}

async function memberCounts(db: Queryable): Promise<Map<string, number>> {
  const { rows } = await db.query<{ list_id: string; n: number }>(`select list_id, count(*)::int as n from hubspot.list_memberships group by list_id`);
  return new Map(rows.map((r) => [r.list_id, r.n]));
}

async function memberCount(db: Queryable, listId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from hubspot.list_memberships where list_id = $1`, [listId]);
  return rows[0]?.n ?? 0;
}

/**
 * A local change to the same membership still waiting, or sent after `readFrom`, wins over what was
 * read: HubSpot was read before it arrived there.
 */
const LOCAL_CHANGE = (op: "list_add" | "list_remove", list: string, record: string, readFrom: string) => `
  exists (select from hubsync.outbox ob
           where ob.object_type = 'lists' and ob.op = '${op}' and ob.record_id = ${record} and ob.changes ->> 'listId' = ${list}
             and (ob.status in ('pending', 'in_flight') or ob.sent_at >= ${readFrom}))`;

/**
 * Reads a list's members in join order from `after` and writes them page by page. With `all` (a
 * full read from the start), members HubSpot no longer lists are then removed. Returns the cursor
 * of the last page read: the next pass starts there again (HubSpot's last page carries no cursor
 * to go on from), so members who join later are read next time.
 */
async function readMembers(deps: SyncContext, listId: string, after: string | null, readFrom: Date, all: Set<string> | null) {
  let added = 0;
  let removed = 0;
  let next = after;
  let lastPageAfter = after;
  do {
    lastPageAfter = next;
    const page = await readMembersPage(deps.hubspot, listId, next);
    for (const r of page.results) all?.add(r.recordId);
    if (page.results.length > 0) {
      added += await inApplyingTransaction(deps.pool, async (client) => {
        const res = await client.query(
          `insert into hubspot.list_memberships as t (list_id, record_id, added_at)
           select $1, x.record_id, coalesce(x.added_at, now()) from jsonb_to_recordset($2::jsonb) as x(record_id text, added_at timestamptz)
            where not ${LOCAL_CHANGE("list_remove", "$1", "x.record_id", "$3")}
           on conflict (list_id, record_id) do update set added_at = excluded.added_at
            where t.added_at is distinct from excluded.added_at
           returning (xmax = 0) as inserted`,
          [listId, JSON.stringify(page.results.map((r) => ({ record_id: r.recordId, added_at: r.addedAt }))), readFrom],
        );
        return res.rows.filter((row: { inserted: boolean }) => row.inserted).length;
      });
    }
    next = page.nextAfter;
  } while (next);
  if (all) {
    removed = await inApplyingTransaction(deps.pool, async (client) => {
      const res = await client.query(
        `delete from hubspot.list_memberships m
          where m.list_id = $1 and not (m.record_id = any ($2::text[]))
            and not ${LOCAL_CHANGE("list_add", "m.list_id", "m.record_id", "$3")}`,
        [listId, [...all], readFrom],
      );
      return res.rowCount ?? 0;
    });
  }
  return { added, removed, lastPageAfter };
}
