import type pg from "pg";
import type { SyncContext } from "../context.ts";
import { inPushLane, type HubSpotApi } from "../hubspot/client.ts";
import { pushAssociations, type AssociationResult } from "./associations.ts";
import { z } from "zod";
import { HELD_FOR_SEARCH, settleTriedCreates } from "./creates.ts";
import { ensureLocalIdProperty, type LocalIdKind } from "./local-id-property.ts";
import { inTransaction } from "../db/transaction.ts";
import {
  claimAssociations,
  claimRecords,
  knownRecordIds,
  markDeferred,
  markRejected,
  markPaused,
  markRetry,
  markRowRejected,
  markHeld,
  markSentMany,
  markSuperseded,
  newestDueAgeMs,
  oldestDue,
  hasPublished,
  nextDue,
  requeueOrphans,
  typesWithPendingAssociations,
  wake,
  writeBack,
  type WriteBack,
} from "./outbox.ts";
import { chunk, coalesce, LOCAL_ID_PROPERTY, type RecordChange } from "./plan.ts";
import { clip, isRejection, sendBatch, type BatchKind, type Outcome, type Rejection, type SendItem, type SendStats } from "./send.ts";
import { findProblems, type Problem } from "./validate.ts";
import { findMergedAway, mayBeMerged, type MergedAway } from "./merged.ts";
import { MissingScopesError, PausedError } from "../hubspot/errors.ts";
import { finishRun, startRun } from "../runs.ts";
import { findObject, type ObjectRow } from "../schema/objects.ts";
import { LISTS } from "../lists/pull.ts";
import { runListPush } from "../lists/push.ts";
import { publishRound } from "../publish/push.ts";

export interface PushOptions {
  /** Wait until the newest queued change is this old before sending, so a burst goes in one batch. */
  coalesceMs?: number;
  /** Records claimed per round (sent in batches of 100). */
  recordsPerRound?: number;
  /** How long a push waits for another push of the same type to finish before leaving it the work. */
  lockWaitMs?: number;
  /** The connection of the push that runs this one (parent types). */
  conn?: pg.PoolClient;
  /** Types already being pushed further up (dependency order; avoids cycles). */
  parentsDone?: string[];
  /** How long after an unanswered create the search is trusted to show it (default HUBSYNC_SEARCH_SETTLE_MS, 60 s). */
  searchSettleMs?: number;
  /** Called after HubSpot answered a round and before the answer is committed (tests kill the process here). */
  onAnswered?: () => Promise<void> | void;
}

export interface PushResult {
  objectType: string;
  skipped?: "locked" | "not_ready" | "write_back_off";
  sent: number;
  rejected: number;
  superseded: number;
  retrying: number;
  requests: number;
  associations: AssociationResult | null;
  /** Rounds of write-back changes, and the time they spent in each step (ms, summed over rounds). */
  rounds?: RoundTimes;
}

/**
 * Where a push's rounds spent their time: claiming the outbox rows (and finding the ids of
 * records created meanwhile), checking values and planning creates, waiting for HubSpot's
 * answers, and committing them. Kept in the run's details, so an operator whose pushes lag can
 * see which step it is.
 */
export interface RoundTimes {
  rounds: number;
  claimMs: number;
  checkMs: number;
  sendMs: number;
  commitMs: number;
}

const DEFAULT_COALESCE_MS = 150;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One push of an object type: everything due in its outbox, then its association changes. One push
 * per object type at a time (a session advisory lock, released by PostgreSQL if the process dies),
 * so a record's changes are never sent out of order; a second push finding the lock taken waits
 * for it, a third leaves the work to those two. HubSpot's answer and the outbox update are committed together after each
 * round; a push that dies in between leaves its rows in flight, and the next push sends them again
 * (creates are upserts keyed by hubsync_local_id, or on types where it cannot be unique looked up
 * by it first, so nothing is created twice).
 */
export async function runPush(ctx: SyncContext, objectType: string, options: PushOptions = {}): Promise<PushResult> {
  // One connection for the whole push (lock, claims, commits, and the pushes of parent types), so
  // concurrent pushes can never hold a pool's connections while waiting for more.
  const conn = options.conn ?? (await ctx.pool.connect());
  try {
    // list memberships have a push of their own (src/core/lists/push.ts)
    if (objectType === LISTS) return await inPushLane(() => runListPush(ctx, conn));
    return await inPushLane(() => runPushOn(conn, ctx, objectType, options));
  } finally {
    if (!options.conn) conn.release();
  }
}

async function runPushOn(conn: pg.PoolClient, ctx: SyncContext, objectType: string, options: PushOptions): Promise<PushResult> {
  const result: PushResult = { objectType, sent: 0, rejected: 0, superseded: 0, retrying: 0, requests: 0, associations: null };
  let locked = false;
  try {
    const tryLock = async (space: string) =>
      (await conn.query<{ ok: boolean }>(`select pg_try_advisory_lock(hashtext($1), hashtext($2)) as ok`, [space, objectType])).rows[0]!.ok;
    locked = await tryLock("hubsync_push");
    if (!locked) {
      // Another push of this type is running. One job waits for it (so a change committed after its
      // last claim still goes out within the second); any further job leaves the work to those two
      // instead of holding a worker slot too.
      if (!(await tryLock("hubsync_push_wait"))) return { ...result, skipped: "locked" };
      try {
        const until = Date.now() + (options.lockWaitMs ?? 10_000);
        while (!locked && Date.now() < until) {
          await sleep(25);
          locked = await tryLock("hubsync_push");
        }
      } finally {
        await conn.query(`select pg_advisory_unlock(hashtext('hubsync_push_wait'), hashtext($1))`, [objectType]);
      }
      if (!locked) {
        await wake(conn, objectType, new Date(Date.now() + 1000));
        return { ...result, skipped: "locked" };
      }
    }
    return await pushLocked(conn, ctx, objectType, options, result);
  } finally {
    if (locked) await conn.query(`select pg_advisory_unlock(hashtext('hubsync_push'), hashtext($1))`, [objectType]).catch(() => {});
  }
}

async function pushLocked(pool: pg.PoolClient, ctx: SyncContext, objectType: string, options: PushOptions, result: PushResult): Promise<PushResult> {
  const api = ctx.hubspot;
  const log = ctx.log.child({ push: objectType });
  const cfg = await findObject(pool, objectType);
  // Publications (src/core/publish) queue into the same outbox, whether or not the type syncs.
  const publishing = await hasPublished(pool, objectType);
  if (!cfg?.table_name && !publishing) return { ...result, skipped: "not_ready" };
  await requeueOrphans(pool, objectType);
  const writeBack = Boolean(cfg?.table_name && cfg.write_back && cfg.enabled);
  if (!writeBack && !publishing) return { ...result, skipped: "write_back_off" };

  const runId = await startRun(pool, objectType, "push", ctx.workerId ?? null);
  const stats: SendStats = { requests: 0 };
  let error: string | null = null;
  let paused: PausedError | null = null;
  let created = false;
  try {
    await pushParentsFirst(pool, ctx, objectType, options);
    const window = options.coalesceMs ?? DEFAULT_COALESCE_MS;
    const age = await newestDueAgeMs(pool, objectType);
    if (age !== null && age < window) await sleep(window - age);

    // Old ids whose changes were re-pointed to a merge's survivor in this push: refused again, they are rejections.
    const followed = new Set<string>();
    const times: RoundTimes = { rounds: 0, claimMs: 0, checkMs: 0, sendMs: 0, commitMs: 0 };
    let mark = 0;
    const lap = (step: "claimMs" | "checkMs" | "sendMs" | "commitMs") => {
      const now = performance.now();
      times[step] += Math.round(now - mark);
      mark = now;
    };
    for (;;) {
      mark = performance.now();
      // Write-back and publication changes go in queue order: each round takes the older kind's
      // changes queued before the other kind's oldest.
      const publishedFrom = await oldestDue(pool, objectType, "published");
      const rows = writeBack && cfg ? await claimRecords(pool, objectType, options.recordsPerRound ?? 500, publishedFrom) : [];
      if (rows.length === 0) {
        if (publishedFrom === null) break;
        const below = writeBack ? await oldestDue(pool, objectType, "write-back") : null;
        const p = await publishRound(pool, ctx, objectType, below, stats, { records: options.recordsPerRound, onAnswered: options.onAnswered });
        result.sent += p.sent;
        result.rejected += p.rejected;
        result.superseded += p.superseded;
        result.retrying += p.retrying;
        if (p.error) {
          error = p.error;
          paused = p.paused;
          break;
        }
        if (p.claimed === 0) break;
        continue;
      }
      if (!cfg?.table_name) break; // (rows are claimed only when write-back is on)
      if (times.rounds++ === 0) result.rounds = times;
      const changes = coalesce(rows);
      const unknown = changes.filter((c) => !c.recordId).map((c) => c.localId);
      const known = await knownRecordIds(pool, cfg.table_name, unknown);
      for (const c of changes) {
        const id = c.recordId ? null : known.get(c.localId);
        if (!id) continue;
        c.recordId = id;
        if (c.action === "upsert" && !c.creates) c.action = Object.keys(c.properties).length > 0 ? "update" : "none";
        c.upsertFirst = false;
      }
      const outcomes = new Map<string, Outcome>();
      const held = new Map<string, Hold>();
      try {
        // Values the property definitions already say HubSpot refuses are rejected here, unsent.
        const writes = changes.filter((c) => c.action === "upsert" || c.action === "update");
        lap("claimMs");
        const refused = await findProblems(api, objectType, writes.map((c) => ({ key: c.localId, properties: c.properties })));
        for (const [localId, problems] of refused) outcomes.set(localId, { ok: false, rejection: refusedBeforeSending(problems) });
        const createKind = await prepareCreates(ctx, objectType, changes.filter((c) => !outcomes.has(c.localId)), outcomes, held, options);
        const ready = changes.filter((c) => !outcomes.has(c.localId) && !held.has(c.localId));
        lap("checkMs");
        await sendAll(api, objectType, ready, outcomes, stats, createKind === "plain" ? "create" : "upsert");
        lap("sendMs");
      } catch (err) {
        // Transient (HubSpot down, rate limit beyond the client's waits, auth): what was answered is
        // kept below, the rest waits for its backoff.
        lap("sendMs");
        error = err instanceof Error ? err.message : String(err);
        if (err instanceof PausedError) paused = err;
        log.warn({ err: error }, "push interrupted; unsent changes wait for their backoff");
      }
      // An update HubSpot refused may have met a merge, and an archive of a merged-away id may have
      // done nothing (HubSpot answers it all the same): the change goes to the survivor instead.
      const suspects = changes.filter((c) => {
        const o = outcomes.get(c.localId);
        if (!c.recordId || followed.has(c.recordId) || !o) return false;
        if (c.action === "archive") return !c.upsertFirst;
        return c.action === "update" && !o.ok && mayBeMerged(c.properties, o.rejection);
      });
      let merged: MergedAway | null = null;
      if (suspects.length > 0 && !error) {
        try {
          merged = await findMergedAway(ctx, objectType, suspects.map((c) => c.recordId!));
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
          if (err instanceof PausedError) paused = err;
        }
      }
      const requeued = suspects.filter((c) => merged?.moved.has(c.recordId!));
      // Not known to be merged or not (the check failed): sent again later rather than settled now.
      for (const c of merged ? requeued : suspects) outcomes.delete(c.localId);
      for (const c of requeued) followed.add(c.recordId!);
      await options.onAnswered?.();
      // A push runs round after round while changes keep coming: a rejection follows the table's
      // on_reject as the DBA has it now, not as it was when this push began.
      const policy = [...outcomes.values()].some((o) => !o.ok) ? ((await findObject(pool, objectType)) ?? cfg) : cfg;
      const counts = await commitRound(pool, objectType, policy, changes, outcomes, held, error, paused, requeued.flatMap((c) => c.rowIds));
      await merged?.apply();
      lap("commitMs");
      result.sent += counts.sent;
      result.rejected += counts.rejected;
      result.superseded += counts.superseded;
      result.retrying += counts.retrying;
      if (counts.created > 0) created = true;
      if (error) break;
    }

    if (!error) {
      const assocRows = await claimAssociations(pool, objectType, 1000);
      if (assocRows.length > 0) {
        try {
          result.associations = await pushAssociations(pool, api, assocRows);
          stats.requests += result.associations.requests;
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
      }
    }
    if (created) {
      // Association changes elsewhere may have been waiting for these records' ids.
      for (const t of await typesWithPendingAssociations(pool)) if (t !== objectType) await wake(pool, t);
    }
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    log.error({ err: error }, "push failed");
    // paused (quota, token, scope): nothing is sent before the pause ends, so wake no earlier
    await wake(pool, objectType, err instanceof PausedError ? err.until : new Date(Date.now() + 30_000));
  } finally {
    result.requests = stats.requests;
    const due = await nextDue(pool, objectType);
    if (due) await wake(pool, objectType, due);
    await finishRun(pool, runId, { error, records: result.sent + result.rejected, requests: result.requests, details: result });
    if (result.sent + result.rejected > 0 || error) {
      log.info({ sent: result.sent, rejected: result.rejected, retrying: result.retrying, requests: result.requests }, "push done");
    }
  }
  return result;
}

/**
 * Records that others point at go first: companies before the contacts and deals associated with
 * them, and so on. Association changes wait for both ends' ids anyway; pushing the parents' due
 * changes first lets a transaction that inserted a company, a contact and their association row
 * reach HubSpot in one pass instead of two.
 */
const PARENTS: Record<string, string[]> = {
  contacts: ["companies"],
  deals: ["companies", "contacts"],
  tickets: ["companies", "contacts"],
  line_items: ["products", "deals"],
  quotes: ["deals"],
};

async function pushParentsFirst(conn: pg.PoolClient, ctx: SyncContext, objectType: string, options: PushOptions): Promise<void> {
  const parents = PARENTS[objectType] ?? [];
  if (parents.length === 0 || options.parentsDone?.includes(objectType)) return;
  const due = await conn.query<{ object_type: string }>(
    `select distinct object_type from hubsync.outbox
      where object_type = any ($1) and status = 'pending' and next_attempt_at <= now() and op = 'create'`,
    [parents],
  );
  const done = [...(options.parentsDone ?? []), objectType];
  for (const parent of parents.filter((p) => due.rows.some((r) => r.object_type === p))) {
    if (!(await findObject(conn, parent))?.write_back) continue;
    await runPush(ctx, parent, { ...options, coalesceMs: 0, parentsDone: done, conn });
  }
}

/** A change refused by the property rules before sending: HubSpot's category and wording, no HTTP status (nothing was asked). */
function refusedBeforeSending(problems: Problem[]): Rejection {
  const message = problems.map((p) => (p.message.includes(p.property) ? p.message : `${p.property}: ${p.message}`)).join("; ");
  return { status: null, category: "VALIDATION_ERROR", message: clip(message), correlationId: null };
}

/** A change kept back unsent this round, with the reason shown on its outbox rows. */
interface Hold {
  message: string;
  until: Date;
}

/** How long after a create may have reached HubSpot its search shows it (HUBSYNC_SEARCH_SETTLE_MS). */
const SearchSettleMs = z.coerce.number().int().min(0).default(60_000);

/**
 * Readies this round's creates: the local-id property exists (created only now that a create is
 * queued), and, on types where it cannot be unique, creates that may already be in HubSpot are
 * looked up first. When the property cannot be made, only the creates wait or are refused, with
 * the reason; updates and deletes of the type go on. Returns how creates are sent, or null if none.
 */
async function prepareCreates(
  ctx: SyncContext,
  objectType: string,
  changes: RecordChange[],
  outcomes: Map<string, Outcome>,
  held: Map<string, Hold>,
  options: PushOptions,
): Promise<LocalIdKind | null> {
  const creating = changes.filter((c) => c.action === "upsert" || c.upsertFirst);
  if (creating.length === 0) return null;
  let kind: LocalIdKind;
  try {
    kind = await ensureLocalIdProperty(ctx.hubspot, objectType);
  } catch (err) {
    const why = `hubsync could not create the property ${LOCAL_ID_PROPERTY} on ${objectType}, which keeps creates exactly-once`;
    if (err instanceof MissingScopesError) {
      for (const c of creating) held.set(c.localId, { message: `${why}: ${err.message}`, until: err.until });
    } else if (isRejection(err)) {
      const rejection: Rejection = { status: err.status, category: err.category ?? `HTTP_${err.status}`, message: clip(`${why}: ${err.body?.message ?? err.message}`), correlationId: err.correlationId ?? null };
      for (const c of creating) outcomes.set(c.localId, { ok: false, rejection });
    } else if (err instanceof PausedError) {
      throw err;
    } else {
      const message = `${why}: ${err instanceof Error ? err.message : String(err)}`;
      for (const c of creating) held.set(c.localId, { message, until: new Date(Date.now() + 30_000) });
    }
    ctx.log.warn({ objectType, err: err instanceof Error ? err.message : String(err), creates: creating.length }, "creates held: the local-id property could not be made");
    return null;
  }
  if (kind === "plain") {
    const settleMs = options.searchSettleMs ?? SearchSettleMs.parse(process.env.HUBSYNC_SEARCH_SETTLE_MS || undefined);
    const settled = await settleTriedCreates(ctx.hubspot, objectType, creating, settleMs, ctx.log);
    for (const c of settled.held) held.set(c.localId, { message: HELD_FOR_SEARCH, until: settled.until });
  }
  return kind;
}

function itemOf(c: RecordChange): SendItem {
  return { key: c.localId, localId: c.localId, recordId: c.recordId, properties: c.properties };
}

/**
 * Creates (upserts) first, so archives of just-created records know their ids; then updates, then
 * archives. Within each of the three, the batches go at once: a round's changes are one per record
 * (coalesced), so no two batches touch the same record and their order means nothing, while sent
 * one after another a round of 500 changes would wait for five answers in a row. The client's
 * in-flight limit for pushes and the push's share of the rate budget still pace them.
 */
async function sendAll(api: HubSpotApi, objectType: string, changes: RecordChange[], outcomes: Map<string, Outcome>, stats: SendStats, creates: "upsert" | "create") {
  await sendBatches(api, objectType, creates, changes.filter((c) => c.action === "upsert" || c.upsertFirst), outcomes, stats);
  for (const c of changes.filter((x) => x.upsertFirst)) {
    const o = outcomes.get(c.localId);
    if (o?.ok && o.written) c.recordId = o.written.id;
    outcomes.delete(c.localId);
  }
  await sendBatches(api, objectType, "update", changes.filter((c) => c.action === "update"), outcomes, stats);
  await sendBatches(api, objectType, "archive", changes.filter((c) => c.action === "archive" && c.recordId), outcomes, stats);
}

/**
 * One kind of change in batches sent together. Every answer that came is kept before an error is
 * passed on (a batch that failed, say on a pause, must not lose the outcome of one that was
 * answered beside it: those records were written and are marked sent).
 */
async function sendBatches(api: HubSpotApi, objectType: string, kind: BatchKind, changes: RecordChange[], outcomes: Map<string, Outcome>, stats: SendStats) {
  const answers = await Promise.allSettled(chunk(changes).map((part) => sendBatch(api, objectType, kind, part.map(itemOf), stats)));
  for (const a of answers) if (a.status === "fulfilled") for (const [k, v] of a.value) outcomes.set(k, v);
  const failed = answers.find((a): a is PromiseRejectedResult => a.status === "rejected");
  if (failed) throw failed.reason;
}

/** HubSpot's answers and the outbox, in one transaction. */
async function commitRound(
  pool: pg.PoolClient,
  objectType: string,
  cfg: Pick<ObjectRow, "on_reject">,
  changes: RecordChange[],
  outcomes: Map<string, Outcome>,
  held: Map<string, Hold>,
  error: string | null,
  paused: PausedError | null = null,
  requeued: string[] = [],
) {
  const counts = { sent: 0, rejected: 0, superseded: 0, retrying: 0, created: 0 };
  await inTransaction(pool, async (client) => {
    const written: WriteBack[] = [];
    const unanswered: string[] = [];
    const sent: Array<{ rowId: string; recordId: string | null }> = [];
    const superseded: string[] = [];
    for (const c of changes) {
      if (c.action === "none") {
        superseded.push(...c.rowIds);
        counts.superseded++;
        continue;
      }
      const hold = held.get(c.localId);
      if (hold) {
        await markHeld(client, c.rowIds.map((rowId) => ({ rowId, triedAt: c.triedAt })), hold.message, hold.until);
        counts.retrying++;
        continue;
      }
      const o = outcomes.get(c.localId);
      if (!o && c.rowIds.some((id) => requeued.includes(id))) continue;
      if (!o) {
        unanswered.push(...c.rowIds);
        counts.retrying++;
        continue;
      }
      if (o.ok) {
        for (const rowId of c.rowIds) sent.push({ rowId, recordId: o.written?.id ?? c.recordId });
        if (o.written && c.action !== "archive") written.push({ localId: c.localId, written: o.written });
        if (c.creates && c.action !== "archive") counts.created++;
        counts.sent++;
      } else {
        await markRejected(client, c.rowIds, o.rejection);
        const revert = cfg.on_reject === "revert" && c.action === "update" ? c.previous : null;
        await markRowRejected(client, objectType, c.localId, `${o.rejection.category}: ${o.rejection.message}`, revert);
        counts.rejected++;
      }
    }
    await markSentMany(client, sent);
    await markSuperseded(client, superseded);
    await markDeferred(client, requeued);
    await writeBack(client, objectType, written);
    if (paused) await markPaused(client, unanswered, paused.message, paused.until);
    else await markRetry(client, unanswered, error ?? "not answered", null);
  });
  return counts;
}
