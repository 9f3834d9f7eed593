import type pg from "pg";
import { z } from "zod";
import type { SyncContext } from "../context.ts";
import type { HubSpotApi } from "../hubspot/client.ts";
import { inTransaction } from "../db/transaction.ts";
import { HubSpotError, PausedError } from "../hubspot/errors.ts";
import { markPaused, markRejected, markRetry, markSentMany, markSuperseded, nextDue, requeueOrphans, wake } from "../push/outbox.ts";
import { clip, isRejection, rejectionOf, type Rejection } from "../push/send.ts";
import { finishRun, startRun } from "../runs.ts";
import { changeMembers } from "./api.ts";
import { LISTS } from "./pull.ts";

/**
 * Record ids per membership call (adds and removes together). HubSpot publishes no cap for these
 * calls; a few hundred keeps each request and its answer small while a burst of local changes to
 * one list still goes out in a handful of calls.
 */
export const MEMBERSHIP_BATCH = 500;

const Row = z.object({
  id: z.coerce.string(),
  op: z.enum(["list_add", "list_remove"]),
  changes: z.object({ listId: z.coerce.string(), recordId: z.coerce.string() }),
});
type Row = z.infer<typeof Row>;

export interface ListPushResult {
  objectType: string;
  skipped?: "locked" | "write_back_off";
  sent: number;
  rejected: number;
  superseded: number;
  retrying: number;
  requests: number;
  associations: null;
}

/**
 * Sends the queued membership changes (object type 'lists' in hubsync.outbox): per list, the last
 * change of each record wins (an add then a remove of the same record sends only the remove), and
 * they go out as add-and-remove calls of up to MEMBERSHIP_BATCH ids. One push of lists at a time
 * (the same session advisory lock the object pushes take). Rows are claimed in flight first; a push
 * that dies leaves them in flight and the next push sends them again, which is harmless: HubSpot
 * ignores an add of a member and a remove of a non-member. Ids HubSpot reports missing (no such
 * record of the list's type) are rejections, kept in the outbox with the reason; so is a list
 * HubSpot refuses (deleted, or DYNAMIC by now). 429s and 5xx are retried by the client, then the
 * rows wait for their backoff.
 */
export async function runListPush(ctx: SyncContext, conn: pg.PoolClient): Promise<ListPushResult> {
  const result: ListPushResult = { objectType: LISTS, sent: 0, rejected: 0, superseded: 0, retrying: 0, requests: 0, associations: null };
  const locked = (await conn.query<{ ok: boolean }>(`select pg_try_advisory_lock(hashtext('hubsync_push'), hashtext($1)) as ok`, [LISTS])).rows[0]!.ok;
  if (!locked) {
    await wake(conn, LISTS, new Date(Date.now() + 1000));
    return { ...result, skipped: "locked" };
  }
  let runId: number | null = null;
  let error: string | null = null;
  try {
    await requeueOrphans(conn, LISTS);
    const on = await conn.query(`select from hubsync.objects where object_type = $1 and enabled and write_back`, [LISTS]);
    if (on.rowCount === 0) return { ...result, skipped: "write_back_off" };
    runId = await startRun(conn, LISTS, "push", ctx.workerId ?? null);
    for (;;) {
      const claimed = await claim(conn, 2000);
      if (claimed.length === 0) break;
      error = await sendRound(ctx, conn, claimed, result);
      if (error) break;
    }
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    ctx.log.error({ err: error }, "push of list memberships failed");
    await wake(conn, LISTS, err instanceof PausedError ? err.until : new Date(Date.now() + 30_000));
  } finally {
    const due = await nextDue(conn, LISTS).catch(() => null);
    if (due) await wake(conn, LISTS, due).catch(() => {});
    if (runId !== null) await finishRun(conn, runId, { error, records: result.sent + result.rejected, requests: result.requests, details: result });
    await conn.query(`select pg_advisory_unlock(hashtext('hubsync_push'), hashtext($1))`, [LISTS]).catch(() => {});
  }
  return result;
}

async function claim(conn: pg.PoolClient, limit: number): Promise<Row[]> {
  const res = await conn.query(
    `with rows as (
       select id from hubsync.outbox
        where object_type = $1 and status = 'pending' and next_attempt_at <= now() and op in ('list_add', 'list_remove')
        order by id limit $2 for update skip locked)
     update hubsync.outbox ob set status = 'in_flight', attempts = ob.attempts + 1, last_attempt_at = now()
       from rows where ob.id = rows.id
     returning ob.id, ob.op, ob.changes`,
    [LISTS, limit],
  );
  return res.rows.map((r) => Row.parse(r)).sort((a, b) => Number(a.id) - Number(b.id));
}

/**
 * Queued changes (in id order) list by list: each record's last change, cut into the calls that
 * send them, and the earlier changes it folds away. The push and `hubsync push --dry-run` alike.
 */
function foldByList(rows: Row[]): Array<{ listId: string; calls: Row[][]; folded: string[] }> {
  const byList = new Map<string, Map<string, Row[]>>();
  for (const r of rows) {
    const records = byList.get(r.changes.listId) ?? new Map<string, Row[]>();
    records.set(r.changes.recordId, [...(records.get(r.changes.recordId) ?? []), r]);
    byList.set(r.changes.listId, records);
  }
  return [...byList].map(([listId, records]) => {
    const last = [...records.values()].map((rs) => rs[rs.length - 1]!);
    const calls: Row[][] = [];
    for (let i = 0; i < last.length; i += MEMBERSHIP_BATCH) calls.push(last.slice(i, i + MEMBERSHIP_BATCH));
    return { listId, calls, folded: [...records.values()].flatMap((rs) => rs.slice(0, -1).map((r) => r.id)) };
  });
}

/** The membership calls the queued rows (hubsync.outbox rows of type 'lists', in id order) would make. */
export function planListCalls(api: HubSpotApi, rows: unknown[]): Array<{ method: "PUT"; path: string; inputs: number; what: string }> {
  return foldByList(rows.map((r) => Row.parse(r))).flatMap(({ listId, calls }) =>
    calls.map((part) => {
      const add = part.filter((r) => r.op === "list_add").length;
      return { method: "PUT" as const, path: api.paths.lists.addAndRemove(listId), inputs: part.length, what: `list ${listId}: add ${add}, remove ${part.length - add}` };
    }),
  );
}

/** The claimed rows of one round, list by list; returns the error that stopped it (the rest then waits), or null. */
async function sendRound(ctx: SyncContext, conn: pg.PoolClient, rows: Row[], result: ListPushResult): Promise<string | null> {
  const unsent = new Set(rows.map((r) => r.id));
  try {
    for (const { listId, calls, folded } of foldByList(rows)) {
      // Earlier changes of a record are folded into its last one.
      await markSuperseded(conn, folded);
      for (const id of folded) unsent.delete(id);
      result.superseded += folded.length;
      for (const part of calls) {
        const add = part.filter((r) => r.op === "list_add").map((r) => r.changes.recordId);
        const remove = part.filter((r) => r.op === "list_remove").map((r) => r.changes.recordId);
        let rejection: Rejection | null = null;
        let missing = new Set<string>();
        try {
          result.requests++;
          const answer = await changeMembers(ctx.hubspot, listId, add, remove);
          missing = new Set(answer.recordIdsMissing ?? []);
        } catch (err) {
          if (!isRejection(err)) throw err;
          rejection = rejectionOf(err as HubSpotError);
        }
        await inTransaction(conn, async (client) => {
          const ok = part.filter((r) => !rejection && !missing.has(r.changes.recordId));
          const refused = part.filter((r) => rejection || missing.has(r.changes.recordId));
          await markSentMany(client, ok.map((r) => ({ rowId: r.id, recordId: null })));
          if (rejection) await markRejected(client, refused.map((r) => r.id), rejection);
          for (const r of rejection ? [] : refused) {
            await markRejected(client, [r.id], {
              status: 200,
              category: "OBJECT_NOT_FOUND",
              message: clip(`HubSpot has no record ${r.changes.recordId} of list ${listId}'s object type (recordIdsMissing), so it was not ${r.op === "list_add" ? "added" : "removed"}`),
              correlationId: null,
            });
          }
        });
        for (const r of part) unsent.delete(r.id);
        result.sent += part.length - (rejection ? part.length : part.filter((r) => missing.has(r.changes.recordId)).length);
        result.rejected += rejection ? part.length : part.filter((r) => missing.has(r.changes.recordId)).length;
      }
    }
    return null;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const left = [...unsent];
    if (err instanceof PausedError) await markPaused(conn, left, message, err.until);
    else await markRetry(conn, left, message, err instanceof HubSpotError ? err.status : null);
    result.retrying += left.length;
    ctx.log.warn({ err: message, waiting: left.length }, "list membership push interrupted; unsent changes wait for their backoff");
    return message;
  }
}
