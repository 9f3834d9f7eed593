import type pg from "pg";
import { z } from "zod";
import type { SyncContext } from "../context.ts";
import type { HubSpotApi } from "../hubspot/client.ts";
import { PausedError } from "../hubspot/errors.ts";
import { inTransaction, type Queryable } from "../db/transaction.ts";
import { markPaused, markRejected, markRetry, markSentMany, markSuperseded } from "../push/outbox.ts";
import { chunk, OutboxRow } from "../push/plan.ts";
import { clip, isRejection, sendBatch, type BatchKind, type Outcome, type Rejection, type SendItem, type SendStats } from "../push/send.ts";
import { findProblems } from "../push/validate.ts";
import { ensureLocalIdProperty } from "../push/local-id-property.ts";

/**
 * Sends publications' queued changes (hubsync.outbox rows with a publication), by the publication's
 * mode and match key. Runs inside the object type's push, under its lock, so a publication's change
 * and a write-back change to the same type go out one at a time, in queue order.
 *
 * What HubSpot offers for a match key decides the calls:
 *  - batch upsert takes idProperty only for a unique-value property (or email on contacts): upsert
 *    and mirror send one upsert per 100 rows, and a retry after a crash finds the record by its key
 *    instead of creating it twice;
 *  - update and create_only read the records by the key first (batch read with idProperty), so a
 *    key with no record is told apart without a refused batch, then update by id or create;
 *  - hs_object_id is the record id: updates by id;
 *  - a company domain is not unique in HubSpot: records are found by a search, and missing ones
 *    created by an upsert keyed by hubsync_local_id (the same for every run of a source key), so a
 *    create retried after a crash is not made twice.
 * Once HubSpot has answered with a record id, later changes of the key update that record by id.
 */

const Config = z.object({
  name: z.string(),
  object_type: z.string(),
  match_on: z.string(),
  mode: z.enum(["update", "upsert", "create_only", "mirror"]),
});
type Config = z.infer<typeof Config>;

const State = z.object({ local_id: z.string(), key: z.string(), record_id: z.string().nullable(), status: z.string() });

/** One source key's claimed rows folded: the last archive wins over earlier values, later values over earlier ones. */
interface KeyChange {
  localId: string;
  key: string;
  recordId: string | null;
  config: Config;
  archive: boolean;
  properties: Record<string, string>;
  rowIds: string[];
}

type Settled =
  | { kind: "sent"; recordId: string | null }
  | { kind: "rejected"; rejection: Rejection }
  | { kind: "unmatched"; message: string }
  | { kind: "exists"; recordId: string };

export interface PublishRoundResult {
  claimed: number;
  sent: number;
  rejected: number;
  superseded: number;
  retrying: number;
  error: string | null;
  paused: PausedError | null;
}

/** Claims due publication rows of up to `records` source keys whose first due row is older than `below` (null: any). */
async function claimPublished(db: Queryable, objectType: string, records: number, below: string | null): Promise<OutboxRow[]> {
  const res = await db.query(
    `with due as (
       select local_id from hubsync.outbox
        where object_type = $1 and status = 'pending' and next_attempt_at <= now() and publication is not null
          and ($3::bigint is null or id < $3::bigint)
        group by local_id order by min(id) limit $2),
     rows as (
       select ob.id from hubsync.outbox ob join due on due.local_id = ob.local_id
        where ob.object_type = $1 and ob.status = 'pending' and ob.publication is not null
        for update of ob skip locked)
     update hubsync.outbox ob set status = 'in_flight', attempts = ob.attempts + 1, last_attempt_at = now()
       from rows where ob.id = rows.id
     returning ob.*`,
    [objectType, records, below],
  );
  return res.rows.map((r) => OutboxRow.parse(r));
}

/** One round: claim, send, and settle the outbox and hubsync.publish_state in one transaction. */
export async function publishRound(
  conn: pg.PoolClient,
  ctx: SyncContext,
  objectType: string,
  below: string | null,
  stats: SendStats,
  options: { records?: number; onAnswered?: () => Promise<void> | void } = {},
): Promise<PublishRoundResult> {
  const out: PublishRoundResult = { claimed: 0, sent: 0, rejected: 0, superseded: 0, retrying: 0, error: null, paused: null };
  const rows = await claimPublished(conn, objectType, options.records ?? 500, below);
  if (rows.length === 0) return out;
  out.claimed = rows.length;
  const { changes, orphans } = await fold(conn, rows);
  const settled = new Map<string, Settled>();
  try {
    await send(ctx.hubspot, objectType, changes, settled, stats);
  } catch (err) {
    out.error = err instanceof Error ? err.message : String(err);
    if (err instanceof PausedError) out.paused = err;
    ctx.log.warn({ objectType, err: out.error }, "publication changes interrupted; unsent ones wait for their backoff");
  }
  await options.onAnswered?.();
  await inTransaction(conn, async (client) => {
    const sent: Array<{ rowId: string; recordId: string | null }> = [];
    const superseded: string[] = [...orphans];
    const unanswered: string[] = [];
    const state: Array<{ local_id: string; status: string; record_id: string | null; error: string | null; archived: boolean }> = [];
    for (const c of changes) {
      const s = settled.get(c.localId);
      if (!s) {
        unanswered.push(...c.rowIds);
        out.retrying++;
        continue;
      }
      if (s.kind === "sent") {
        for (const rowId of c.rowIds) sent.push({ rowId, recordId: s.recordId });
        state.push({ local_id: c.localId, status: "sent", record_id: s.recordId, error: null, archived: c.archive });
        out.sent++;
      } else if (s.kind === "rejected") {
        await markRejected(client, c.rowIds, s.rejection);
        state.push({ local_id: c.localId, status: "rejected", record_id: c.recordId, error: `${s.rejection.category}: ${s.rejection.message}`, archived: false });
        out.rejected++;
      } else {
        superseded.push(...c.rowIds);
        state.push({
          local_id: c.localId,
          status: s.kind,
          record_id: s.kind === "exists" ? s.recordId : null,
          error: s.kind === "unmatched" ? s.message : null,
          archived: false,
        });
        out.superseded++;
      }
    }
    await markSentMany(client, sent);
    await markSuperseded(client, superseded);
    if (out.paused) await markPaused(client, unanswered, out.paused.message, out.paused.until);
    else await markRetry(client, unanswered, out.error ?? "not answered", null);
    // A key queued again meanwhile (its row changed) stays pending: only its record id is kept.
    await client.query(
      `with x as (select * from jsonb_to_recordset($1::jsonb) as x(local_id uuid, status text, record_id text, error text, archived boolean)),
       gone as (delete from hubsync.publish_state st using x where st.local_id = x.local_id and x.archived and st.status = 'leaving')
       update hubsync.publish_state st
          set record_id = coalesce(x.record_id, st.record_id),
              status = case when exists (select from hubsync.outbox ob where ob.local_id = x.local_id and ob.status in ('pending', 'in_flight'))
                            then st.status else x.status end,
              error = x.error, updated_at = now()
         from x where st.local_id = x.local_id and not x.archived`,
      [JSON.stringify(state)],
    );
  });
  return out;
}

/** Folds claimed rows per source key, with the publication and its kept state; rows whose publication or key is gone are returned apart. */
async function fold(db: Queryable, rows: OutboxRow[]): Promise<{ changes: KeyChange[]; orphans: string[] }> {
  const localIds = [...new Set(rows.map((r) => r.local_id!))];
  const names = [...new Set(rows.map((r) => r.publication!))];
  const configs = new Map(
    (await db.query(`select name, object_type, match_on, mode from hubsync.publication_config where name = any ($1)`, [names])).rows.map((r) => {
      const c = Config.parse(r);
      return [c.name, c] as const;
    }),
  );
  const states = new Map(
    (await db.query(`select local_id::text, key, record_id, status from hubsync.publish_state where local_id = any ($1::uuid[])`, [localIds])).rows.map((r) => {
      const s = State.parse(r);
      return [s.local_id, s] as const;
    }),
  );
  const byKey = new Map<string, OutboxRow[]>();
  for (const r of [...rows].sort((a, b) => Number(a.id) - Number(b.id))) byKey.set(r.local_id!, [...(byKey.get(r.local_id!) ?? []), r]);
  const changes: KeyChange[] = [];
  const orphans: string[] = [];
  for (const [localId, list] of byKey) {
    const last = list[list.length - 1]!;
    const config = configs.get(last.publication!);
    const state = states.get(localId);
    if (!config || !state) {
      orphans.push(...list.map((r) => r.id));
      continue;
    }
    const c: KeyChange = { localId, key: state.key, recordId: state.record_id, config, archive: false, properties: {}, rowIds: list.map((r) => r.id) };
    for (const r of list) {
      if (r.record_id) c.recordId = r.record_id;
      if (r.op === "archive") {
        c.archive = true;
        c.properties = {};
      } else {
        c.archive = false;
        for (const [k, v] of Object.entries(r.changes)) c.properties[k] = typeof v === "string" ? v : v === null || v === undefined ? "" : JSON.stringify(v);
      }
    }
    changes.push(c);
  }
  return { changes, orphans };
}

/** A batch of items of one kind; each answer is settled under its key. */
async function sendKind(api: HubSpotApi, objectType: string, kind: BatchKind, items: SendItem[], settled: Map<string, Settled>, stats: SendStats) {
  for (const part of chunk(items)) {
    for (const [key, o] of await sendBatch(api, objectType, kind, part, stats)) settled.set(key, settledOf(o));
  }
}

function settledOf(o: Outcome): Settled {
  return o.ok ? { kind: "sent", recordId: o.written?.id ?? null } : { kind: "rejected", rejection: o.rejection };
}

const norm = (property: string, value: string) => (property === "email" || property === "domain" ? value.toLowerCase() : value);

/** Record ids by match key value, for keys without one yet: batch read by idProperty, or a search where the key is not unique. */
async function resolve(api: HubSpotApi, objectType: string, matchOn: string, keys: string[], stats: SendStats): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  const add = (value: string | null | undefined, id: string) => {
    if (!value) return;
    const k = norm(matchOn, value);
    found.set(k, [...new Set([...(found.get(k) ?? []), id])]);
  };
  for (const part of chunk(keys)) {
    stats.requests++;
    if (matchOn === "domain" && objectType === "companies") {
      const page = await api.search(objectType, {
        filterGroups: [{ filters: [{ propertyName: "domain", operator: "IN", values: part }] }],
        properties: ["domain"],
        sorts: [{ propertyName: "hs_object_id", direction: "ASCENDING" }],
        limit: 200,
      });
      for (const r of page.results) add(r.properties.domain, r.id);
    } else {
      const read = await api.batchRead(objectType, part, [matchOn], { idProperty: matchOn });
      for (const r of read.results) add(r.properties[matchOn], r.id);
    }
  }
  return found;
}

/** Decides each change's call by its publication's mode and match key, and sends them: archives, updates by id, then upserts. */
async function send(api: HubSpotApi, objectType: string, changes: KeyChange[], settled: Map<string, Settled>, stats: SendStats): Promise<void> {
  // Values the property definitions say HubSpot refuses are rejected here, unsent (one bad input would refuse a whole batch).
  const writes = changes.filter((c) => !c.archive);
  for (const [key, problems] of await findProblems(api, objectType, writes.map((c) => ({ key: c.localId, properties: c.properties })))) {
    const message = problems.map((p) => (p.message.includes(p.property) ? p.message : `${p.property}: ${p.message}`)).join("; ");
    settled.set(key, { kind: "rejected", rejection: { status: null, category: "VALIDATION_ERROR", message: clip(message), correlationId: null } });
  }
  const item = (c: KeyChange, match?: SendItem["match"]): SendItem => ({ key: c.localId, localId: c.localId, recordId: c.recordId, properties: c.properties, ...(match ? { match } : {}) });
  const archives = changes.filter((c) => c.archive && c.recordId);
  for (const c of changes.filter((x) => x.archive && !x.recordId)) settled.set(c.localId, { kind: "sent", recordId: null });
  const updates: SendItem[] = [];
  const upserts: SendItem[] = [];
  const localUpserts: SendItem[] = [];
  const pending = writes.filter((c) => !settled.has(c.localId));
  const byPublication = new Map<string, KeyChange[]>();
  for (const c of pending) byPublication.set(c.config.name, [...(byPublication.get(c.config.name) ?? []), c]);
  for (const list of byPublication.values()) {
    const { match_on: matchOn, mode } = list[0]!.config;
    const unique = matchOn !== "hs_object_id" && !(matchOn === "domain" && objectType === "companies");
    if (matchOn === "hs_object_id") {
      for (const c of list) updates.push({ ...item(c), recordId: c.recordId ?? c.key });
      continue;
    }
    if (unique && (mode === "upsert" || mode === "mirror")) {
      for (const c of list) upserts.push(item(c, { property: matchOn, value: c.key }));
      continue;
    }
    const known = list.filter((c) => c.recordId);
    const unknown = list.filter((c) => !c.recordId);
    const found = await resolve(api, objectType, matchOn, unknown.map((c) => c.key), stats);
    for (const c of unknown) {
      const ids = found.get(norm(matchOn, c.key)) ?? [];
      if (ids.length > 1) {
        settled.set(c.localId, {
          kind: "rejected",
          rejection: { status: null, category: "AMBIGUOUS_MATCH", message: `${ids.length} ${objectType} records have ${matchOn} ${c.key} (${ids.join(", ")}); hubsync updates one record per row`, correlationId: null },
        });
      } else if (ids.length === 1) {
        c.recordId = ids[0]!;
        known.push(c);
      } else if (mode === "update") {
        settled.set(c.localId, { kind: "unmatched", message: `no ${objectType} record has ${matchOn} ${c.key}; mode update creates none` });
      } else if (unique) {
        upserts.push(item(c, { property: matchOn, value: c.key }));
      } else {
        localUpserts.push(item(c));
      }
    }
    for (const c of known) {
      if (mode === "create_only") settled.set(c.localId, { kind: "exists", recordId: c.recordId! });
      else updates.push(item(c));
    }
  }
  await sendKind(api, objectType, "archive", archives.map((c) => item(c)), settled, stats);
  await sendKind(api, objectType, "update", updates, settled, stats);
  await sendKind(api, objectType, "upsert", upserts, settled, stats);
  if (localUpserts.length > 0) {
    try {
      await ensureLocalIdProperty(api, objectType);
    } catch (err) {
      if (!isRejection(err)) throw err;
      const rejection: Rejection = { status: err.status, category: err.category ?? `HTTP_${err.status}`, message: clip(err.message), correlationId: err.correlationId ?? null };
      for (const i of localUpserts) settled.set(i.key, { kind: "rejected", rejection });
      return;
    }
    await sendKind(api, objectType, "upsert", localUpserts, settled, stats);
  }
}
