import type pg from "pg";
import { z } from "zod";
import type { Queryable } from "../db/transaction.ts";
import { storable } from "../hubspot/errors.ts";
import { webhookLag } from "../operations/metrics.ts";

/**
 * hubsync.webhook_events, the durable inbox between the receiver and the apply task. The receiver
 * writes a batch and wakes the task in one statement (one transaction, one round trip); the task
 * claims rows for a while (a crashed run's rows come back when the claim expires), then marks them
 * done, ignored (with the reason) or failed (kept, retried with a backoff, with the error).
 */

/**
 * How long an apply run holds the rows it claimed. Runs take turns (one queue), so a claim only
 * ever expires under a run that died (SIGKILL, lost host): its rows are applied again a minute later.
 */
const CLAIM_MS = 60 * 1000;
/** Failed rows are retried after 2^attempts seconds, at most this long. */
const MAX_BACKOFF_S = 3600;

/**
 * Writes the events (raw JSON, as received) and queues the apply job; both commit or neither.
 * Events that are not HubSpot's shape are kept too, as 'ignored' with the reason: a signed batch
 * comes from HubSpot, and one odd event must not make HubSpot retry (and finally drop) the rest.
 */
export async function insertBatch(db: Queryable, events: unknown[], refused: Array<{ event: unknown; reason: string }> = []): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `with ins as (
       insert into hubsync.webhook_events (occurred_at, subscription_type, object_type_id, object_id, event_id, attempt_number, event)
       select to_timestamp((e ->> 'occurredAt')::numeric / 1000), e ->> 'subscriptionType', e ->> 'objectTypeId', e ->> 'objectId',
              (e ->> 'eventId')::bigint, (e ->> 'attemptNumber')::integer, e
         from jsonb_array_elements($1::jsonb) as e
       returning 1),
     odd as (
       insert into hubsync.webhook_events (subscription_type, event, status, note, processed_at)
       select coalesce(left(r ->> 'type', 200), '(unknown)'), r -> 'event', 'ignored', r ->> 'reason', now()
         from jsonb_array_elements($2::jsonb) as r
       returning 1)
     select (select count(*) from ins)::integer as n, (select count(*) from odd) as odd,
            case when (select count(*) from ins) > 0 then hubsync._wake_webhook_apply() end`,
    [
      // jsonb cannot hold U+0000 or a lone surrogate, which a property value may carry (storable)
      JSON.stringify(storable(events)),
      JSON.stringify(storable(refused).map((r) => ({ event: r.event, reason: r.reason, type: typeof (r.event as { subscriptionType?: unknown } | null)?.subscriptionType === "string" ? (r.event as { subscriptionType: string }).subscriptionType : null }))),
    ],
  );
  return rows[0]?.n ?? 0;
}

export const ClaimedRow = z.object({ id: z.string(), event: z.unknown(), attempts: z.number() });
export type ClaimedRow = z.infer<typeof ClaimedRow>;

/** Claims up to `limit` due rows, oldest first; rows another run holds are skipped, not waited for. */
export async function claimEvents(db: Queryable, limit: number): Promise<ClaimedRow[]> {
  const { rows } = await db.query(
    `with due as (
       select id from hubsync.webhook_events
        where status in ('pending', 'failed', 'processing') and next_attempt_at <= now()
          and (status <> 'processing' or claimed_until < now())
        order by next_attempt_at, id limit $1 for update skip locked)
     update hubsync.webhook_events e
        set status = 'processing', claimed_until = now() + make_interval(secs => $2), attempts = e.attempts + 1
       from due where e.id = due.id
     returning e.id::text as id, e.event, e.attempts`,
    [limit, CLAIM_MS / 1000],
  );
  return rows.map((r) => ClaimedRow.parse(r));
}

export interface Outcome {
  id: string;
  status: "done" | "ignored" | "failed";
  objectType?: string | null;
  /** Why ignored, or the failure. */
  message?: string | null;
}

const Applied = z.object({ lag_s: z.coerce.number().nullable() });

export async function finishEvents(db: Queryable, outcomes: Outcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  const res = await db.query(
    `update hubsync.webhook_events e
        set status = x.status, object_type = x.object_type, claimed_until = null,
            processed_at = case when x.status = 'failed' then e.processed_at else now() end,
            error = case when x.status = 'failed' then x.message end,
            note = case when x.status = 'ignored' then x.message end,
            next_attempt_at = case when x.status = 'failed' then now() + make_interval(secs => least($2, power(2, e.attempts))) else e.next_attempt_at end
       from jsonb_to_recordset($1::jsonb) as x(id bigint, status text, object_type text, message text)
      where e.id = x.id
     returning case when e.status = 'done' then extract(epoch from e.processed_at - e.occurred_at)::float8 end as lag_s`,
    [JSON.stringify(outcomes.map((o) => ({ id: o.id, status: o.status, object_type: o.objectType ?? null, message: o.message ?? null }))), MAX_BACKOFF_S],
  );
  // HubSpot's change to its apply here, for the events applied (not ignored, not failed)
  for (const { lag_s } of res.rows.map((r) => Applied.parse(r))) if (lag_s !== null) webhookLag.observe(Math.max(0, lag_s));
}

/** Gives rows back untouched (HubSpot calls are paused until `until`): the attempt does not count. */
export async function releaseEvents(db: Queryable, ids: string[], until: Date): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `update hubsync.webhook_events set status = 'pending', claimed_until = null, attempts = greatest(attempts - 1, 0), next_attempt_at = $2
      where id = any($1::bigint[]) and status = 'processing'`,
    [ids, until],
  );
}

/** Deletes applied and ignored rows older than `retentionMs`, a bounded slice per call. */
export async function pruneEvents(db: Queryable, retentionMs: number, limit = 10_000): Promise<number> {
  const res = await db.query(
    `delete from hubsync.webhook_events where id in (
       select id from hubsync.webhook_events
        where status in ('done', 'ignored') and processed_at < now() - make_interval(secs => $1) limit $2)`,
    [retentionMs / 1000, limit],
  );
  return res.rowCount ?? 0;
}

/** Queues the apply job for the earliest row still waiting: failed, released, or held by a run that died. */
export async function scheduleRetry(pool: pg.Pool): Promise<Date | null> {
  const { rows } = await pool.query<{ at: Date | null }>(
    `select min(case when status = 'processing' then greatest(claimed_until, next_attempt_at) else next_attempt_at end) as at
       from hubsync.webhook_events
      where status in ('failed', 'pending', 'processing') and next_attempt_at > now() or (status = 'processing' and claimed_until > now())`,
  );
  const at = rows[0]?.at ?? null;
  if (at) await pool.query(`select hubsync._wake_webhook_apply($1)`, [at]);
  return at;
}
