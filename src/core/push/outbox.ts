import type pg from "pg";
import { z } from "zod";
import { inTransaction, type Queryable } from "../db/transaction.ts";
import { OutboxRow } from "./plan.ts";
import type { Rejection, Written } from "./send.ts";
import { pushLatency } from "../operations/metrics.ts";


const RECORD_OPS = ["create", "update", "archive"];
const ASSOCIATION_OPS = ["associate", "unassociate"];

/**
 * Rows left in flight by a push that died (SIGKILL, lost connection) go back to the queue. Only
 * called by the holder of the object type's push lock, so no live push owns them.
 */
export async function requeueOrphans(db: Queryable, objectType: string): Promise<number> {
  const res = await db.query(`update hubsync.outbox set status = 'pending' where object_type = $1 and status = 'in_flight'`, [objectType]);
  return res.rowCount ?? 0;
}

/**
 * Claims due record changes: every queued row of up to `records` records that have a due row, so
 * a record's changes are always folded and sent together and in order. In flight = being sent;
 * attempts counts tries durably (a create tried before may exist in HubSpot already).
 */
export async function claimRecords(db: Queryable, objectType: string, records: number, below: string | null = null): Promise<OutboxRow[]> {
  const res = await db.query(
    `with due as (
       select local_id from hubsync.outbox
        where object_type = $1 and status = 'pending' and next_attempt_at <= now() and op = any ($3) and publication is null
          and ($4::bigint is null or id < $4::bigint)
        group by local_id order by min(id) limit $2),
     rows as (
       select ob.id, ob.last_attempt_at from hubsync.outbox ob join due on due.local_id = ob.local_id
        where ob.object_type = $1 and ob.status = 'pending' and ob.op = any ($3) and ob.publication is null
        for update of ob skip locked)
     update hubsync.outbox ob set status = 'in_flight', attempts = ob.attempts + 1, last_attempt_at = now()
       from rows where ob.id = rows.id
     returning ob.*, rows.last_attempt_at as prev_attempt_at`,
    [objectType, records, RECORD_OPS, below],
  );
  return res.rows.map((r) => OutboxRow.parse(r));
}

/**
 * Queue position (outbox id) of the oldest due record change of the type: a write-back change, or
 * one a publication queued (null: none due). The push sends the two kinds in this order.
 */
export async function oldestDue(db: Queryable, objectType: string, kind: "write-back" | "published"): Promise<string | null> {
  const res = await db.query<{ id: string | null }>(
    `select min(id)::text as id from hubsync.outbox
      where object_type = $1 and status = 'pending' and next_attempt_at <= now() and op = any ($2)
        and (publication is not null) = $3`,
    [objectType, RECORD_OPS, kind === "published"],
  );
  return res.rows[0]?.id ?? null;
}

/** Whether publications have changes of the type queued or being sent. */
export async function hasPublished(db: Queryable, objectType: string): Promise<boolean> {
  const res = await db.query(
    `select from hubsync.outbox where object_type = $1 and status in ('pending', 'in_flight') and publication is not null limit 1`,
    [objectType],
  );
  return (res.rowCount ?? 0) > 0;
}

export async function claimAssociations(db: Queryable, objectType: string, limit: number): Promise<OutboxRow[]> {
  const res = await db.query(
    `with rows as (
       select id from hubsync.outbox
        where object_type = $1 and status = 'pending' and next_attempt_at <= now() and op = any ($3)
        order by id limit $2 for update skip locked)
     update hubsync.outbox ob set status = 'in_flight', attempts = ob.attempts + 1, last_attempt_at = now()
       from rows where ob.id = rows.id
     returning ob.*`,
    [objectType, limit, ASSOCIATION_OPS],
  );
  return res.rows.map((r) => OutboxRow.parse(r));
}

/** `returning` of a statement that marks rows sent: from the local commit to the request that got the change through. */
const LATENCY = `returning extract(epoch from coalesce(last_attempt_at, now()) - created_at)::float8 as latency_s`;

const Latency = z.object({ latency_s: z.coerce.number() });

function observeLatency(rows: unknown[]): void {
  for (const r of rows.map((row) => Latency.parse(row))) pushLatency.observe(Math.max(0, r.latency_s));
}

export async function markSent(db: Queryable, rowIds: string[], recordId: string | null): Promise<void> {
  if (rowIds.length === 0) return;
  const res = await db.query(
    `update hubsync.outbox set status = 'sent', sent_at = now(), record_id = coalesce($2, record_id),
            error_category = null, error_message = null, error_correlation_id = null, error_status = null
      where id = any ($1::bigint[])
     ${LATENCY}`,
    [rowIds, recordId],
  );
  observeLatency(res.rows);
}

/** Many rows sent in one statement: each row with the HubSpot id of its record (null: keep what it has). */
export async function markSentMany(db: Queryable, rows: Array<{ rowId: string; recordId: string | null }>): Promise<void> {
  if (rows.length === 0) return;
  const res = await db.query(
    `update hubsync.outbox ob set status = 'sent', sent_at = now(), record_id = coalesce(x.record_id, ob.record_id),
            error_category = null, error_message = null, error_correlation_id = null, error_status = null
       from unnest($1::bigint[], $2::text[]) as x(id, record_id)
      where ob.id = x.id
     ${LATENCY}`,
    [rows.map((r) => r.rowId), rows.map((r) => r.recordId)],
  );
  observeLatency(res.rows);
}

export async function markSuperseded(db: Queryable, rowIds: string[]): Promise<void> {
  if (rowIds.length === 0) return;
  await db.query(`update hubsync.outbox set status = 'superseded' where id = any ($1::bigint[])`, [rowIds]);
}

export async function markRejected(db: Queryable, rowIds: string[], r: Rejection): Promise<void> {
  await db.query(
    `update hubsync.outbox set status = 'rejected', error_status = $2, error_category = $3, error_message = $4, error_correlation_id = $5
      where id = any ($1::bigint[])`,
    [rowIds, r.status, r.category, r.message, r.correlationId],
  );
}

/** Back in the queue without counting the try (an association waiting for an end's id). */
export async function markDeferred(db: Queryable, rowIds: string[]): Promise<void> {
  if (rowIds.length === 0) return;
  await db.query(`update hubsync.outbox set status = 'pending', attempts = greatest(attempts - 1, 0) where id = any ($1::bigint[])`, [rowIds]);
}

/** A transient failure: the rows wait for their backoff, counted by their own attempts. */
export async function markRetry(db: Queryable, rowIds: string[], message: string, status: number | null): Promise<void> {
  if (rowIds.length === 0) return;
  await db.query(
    `update hubsync.outbox
        set status = 'pending', error_message = $2, error_status = $3, error_category = 'TRANSIENT',
            next_attempt_at = now() + make_interval(secs => least(3600, power(2, least(attempts, 12))) * (0.75 + random() * 0.5))
      where id = any ($1::bigint[])`,
    [rowIds, message.slice(0, 2000), status],
  );
}

/**
 * HubSpot is paused (daily quota, refused token, missing scope): the rows wait for the pause's end
 * without counting the try, so a long pause never turns into a long backoff or a give-up.
 */
export async function markPaused(db: Queryable, rowIds: string[], message: string, until: Date): Promise<void> {
  if (rowIds.length === 0) return;
  await db.query(
    `update hubsync.outbox
        set status = 'pending', attempts = greatest(attempts - 1, 0), error_message = $2, error_status = null,
            error_category = 'PAUSED', next_attempt_at = greatest($3::timestamptz, now())
      where id = any ($1::bigint[])`,
    [rowIds, message.slice(0, 2000), until],
  );
}

/**
 * Creates held back unsent (waiting for HubSpot's search index, or for a scope): back in the queue
 * until `until` with the reason, the try not counted and its time put back, so the wait is
 * measured from when the create may last have reached HubSpot.
 */
export async function markHeld(db: Queryable, rows: Array<{ rowId: string; triedAt: Date | null }>, message: string, until: Date): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `update hubsync.outbox ob
        set status = 'pending', attempts = greatest(ob.attempts - 1, 0), last_attempt_at = x.tried_at,
            error_message = $3, error_status = null, error_category = 'PAUSED', next_attempt_at = greatest($4::timestamptz, now())
       from unnest($1::bigint[], $2::timestamptz[]) as x(id, tried_at)
      where ob.id = x.id`,
    [rows.map((r) => r.rowId), rows.map((r) => r.triedAt), message.slice(0, 2000), until],
  );
}

export interface WriteBack {
  localId: string;
  written: Written;
}

export async function writeBack(db: Queryable, objectType: string, rows: WriteBack[]): Promise<void> {
  if (rows.length === 0) return;
  const payload = rows.map((r) => ({
    localId: r.localId,
    id: r.written.id,
    properties: r.written.properties,
    createdAt: r.written.createdAt,
    updatedAt: r.written.updatedAt,
  }));
  await db.query(`select hubsync._push_write_back($1, $2::jsonb)`, [objectType, JSON.stringify(payload)]);
}

export async function markRowRejected(
  db: Queryable,
  objectType: string,
  localId: string,
  message: string,
  revert: Record<string, string> | null,
): Promise<void> {
  await db.query(`select hubsync._push_mark_rejected($1, $2::uuid, $3, $4::jsonb)`, [
    objectType,
    localId,
    message,
    revert ? JSON.stringify(revert) : null,
  ]);
}

/** HubSpot ids already known for records whose queued rows lack one (created by an earlier push). */
export async function knownRecordIds(db: Queryable, tableName: string, localIds: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (localIds.length === 0) return out;
  const res = await db.query<{ local_id: string; id: string }>(
    `select local_id::text, record_id as id from hubsync.outbox
      where local_id = any ($1::uuid[]) and status = 'sent' and record_id is not null
     union all
     select _sync_local_id::text, id from hubspot.${quoteIdent(tableName)} where _sync_local_id = any ($1::uuid[]) and id is not null`,
    [localIds],
  );
  for (const r of res.rows) out.set(r.local_id, r.id);
  return out;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Object types with association changes waiting, to wake after records got their ids. */
export async function typesWithPendingAssociations(db: Queryable): Promise<string[]> {
  const res = await db.query<{ object_type: string }>(
    `select distinct object_type from hubsync.outbox where status = 'pending' and op = any ($1)`,
    [ASSOCIATION_OPS],
  );
  return res.rows.map((r) => r.object_type);
}

export async function wake(db: Queryable, objectType: string, at: Date | null = null): Promise<void> {
  await db.query(`select hubsync._wake_push($1, $2)`, [objectType, at]);
}

/** When the next row of the object type comes due after a backoff (null: none waiting). */
export async function nextDue(db: Queryable, objectType: string): Promise<Date | null> {
  const res = await db.query<{ at: Date | null }>(
    `select min(next_attempt_at) as at from hubsync.outbox where object_type = $1 and status = 'pending' and next_attempt_at > now()`,
    [objectType],
  );
  return res.rows[0]?.at ?? null;
}

/** Milliseconds since the newest due change was queued (null: nothing due). */
export async function newestDueAgeMs(db: Queryable, objectType: string): Promise<number | null> {
  const res = await db.query<{ ms: number | null }>(
    `select (extract(epoch from clock_timestamp() - max(created_at)) * 1000)::float8 as ms
       from hubsync.outbox where object_type = $1 and status = 'pending' and next_attempt_at <= now()`,
    [objectType],
  );
  return res.rows[0]?.ms ?? null;
}
