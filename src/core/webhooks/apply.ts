import { refreshAssociationsFor } from "../associations/refresh.ts";
import { withChangeSource } from "../db/transaction.ts";
import { PausedError } from "../hubspot/errors.ts";
import { readByIds } from "../pull/by-id.ts";
import type { SyncContext } from "../context.ts";
import { loadTarget } from "../pull/target.ts";
import { addCounts, emptyCounts, type ApplyCounts } from "../pull/upsert.ts";
import { listEnabledObjects } from "../schema/objects.ts";
import { WebhookEvent } from "./events.ts";
import { claimEvents, finishEvents, pruneEvents, releaseEvents, scheduleRetry, type ClaimedRow, type Outcome } from "./inbox.ts";
import { indexObjects, planEvent, type TypeWork } from "./object-types.ts";

/**
 * Applies the webhook inbox. An event only says "this record changed"; the record's current state
 * is read from HubSpot (batch read, 100 per call, archived ones too) and written through the same
 * code as a pull, so events may come in any order, twice, or late: the result is HubSpot's state.
 * Records HubSpot no longer has (purged, merged away) leave the table as in the reconciliation.
 */

export interface ApplyOptions {
  /** Rows claimed per round (one batch read per 100 distinct records of a type). */
  batchSize?: number;
  /** Applied and ignored rows are kept this long (default 24 h), for inspection. */
  retentionMs?: number;
  minIntervalMs?: number;
}

export interface ApplyTotals extends ApplyCounts {
  events: number;
  ignored: number;
  failed: number;
  archived: number;
  gone: number;
  associations: number;
}

export const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;
/**
 * Runs of this process start at least this far apart. A quiet portal's event is applied at once;
 * under a steady stream each run takes what gathered meanwhile, so the batch reads (which share the
 * portal's rate limit with pulls and pushes) stay at a few per second instead of one per request.
 */
export const MIN_RUN_INTERVAL_MS = 200;
let lastRunAt = 0;

export async function applyWebhookEvents(deps: SyncContext, opts: ApplyOptions = {}): Promise<ApplyTotals> {
  const totals: ApplyTotals = { ...emptyCounts(), events: 0, ignored: 0, failed: 0, archived: 0, gone: 0, associations: 0 };
  const batchSize = opts.batchSize ?? 500;
  const wait = lastRunAt + (opts.minIntervalMs ?? MIN_RUN_INTERVAL_MS) - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  lastRunAt = Date.now();
  for (;;) {
    const rows = await claimEvents(deps.pool, batchSize);
    if (rows.length === 0) break;
    await applyClaimed(deps, rows, totals);
    if (rows.length < batchSize) break;
  }
  await pruneEvents(deps.pool, opts.retentionMs ?? DEFAULT_RETENTION_MS);
  await scheduleRetry(deps.pool);
  if (totals.events > 0) deps.log.debug({ component: "webhooks", ...totals }, "webhook events applied");
  return totals;
}

async function applyClaimed(deps: SyncContext, rows: ClaimedRow[], totals: ApplyTotals): Promise<void> {
  const index = indexObjects(await listEnabledObjects(deps.pool));
  const outcomes: Outcome[] = [];
  const work = new Map<string, TypeWork>();
  /** Row id → the object types it waits for. */
  const waiting = new Map<string, string[]>();
  for (const row of rows) {
    const parsed = WebhookEvent.safeParse(row.event);
    const plan = parsed.success ? planEvent(parsed.data, index) : { ok: false as const, note: `not a HubSpot event: ${parsed.error.issues[0]?.message}` };
    if (!plan.ok) {
      outcomes.push({ id: row.id, status: "ignored", message: plan.note });
      continue;
    }
    for (const [type, w] of plan.work) {
      const into = work.get(type) ?? { records: new Set<string>(), associations: new Set<string>(), pairs: new Map<string, Set<string>>() };
      for (const id of w.records) into.records.add(id);
      for (const id of w.associations) into.associations.add(id);
      for (const [otherType, ids] of w.pairs) {
        const pairIds = into.pairs.get(otherType) ?? new Set<string>();
        for (const id of ids) pairIds.add(id);
        into.pairs.set(otherType, pairIds);
      }
      work.set(type, into);
    }
    waiting.set(row.id, [...plan.work.keys()]);
  }

  const failures = new Map<string, string>();
  for (const [objectType, w] of work) {
    try {
      await withChangeSource("webhook", () => applyType(deps, objectType, w, totals));
    } catch (err) {
      if (err instanceof PausedError && err.reason !== "scopes") {
        // The portal is paused (daily quota, refused token): nothing was wrong with these events.
        // (A missing scope concerns one object type: its events fail and are retried like any error.)
        await finishEvents(deps.pool, outcomes);
        await releaseEvents(deps.pool, [...waiting.keys()], err.until);
        throw err;
      }
      const message = err instanceof Error ? err.message : String(err);
      deps.log.warn({ component: "webhooks", objectType, err: message }, "webhook events not applied; they stay in the inbox and are retried");
      failures.set(objectType, `${objectType}: ${message}`);
    }
  }
  for (const [id, types] of waiting) {
    const failed = types.map((t) => failures.get(t)).filter((m): m is string => m !== undefined);
    outcomes.push(failed.length ? { id, status: "failed", objectType: types[0], message: failed.join("; ") } : { id, status: "done", objectType: types[0] });
  }
  await finishEvents(deps.pool, outcomes);
  totals.events += rows.length;
  totals.ignored += outcomes.filter((o) => o.status === "ignored").length;
  totals.failed += outcomes.filter((o) => o.status === "failed").length;
}

async function applyType(deps: SyncContext, objectType: string, w: TypeWork, totals: ApplyTotals): Promise<void> {
  const target = await loadTarget(deps, objectType);
  const read = await readByIds(deps, target, [...w.records], { component: "webhooks" });
  addCounts(totals, read);
  totals.archived += read.archived;
  totals.gone += read.gone;
  if (w.associations.size > 0) {
    const r = await refreshAssociationsFor(deps, objectType, [...w.associations]);
    totals.associations += r.inserted + r.updated + r.deleted;
  }
  for (const [otherType, ids] of w.pairs) {
    const left = [...ids].filter((id) => !w.associations.has(id));
    if (left.length === 0) continue;
    const r = await refreshAssociationsFor(deps, objectType, left, { withType: otherType });
    totals.associations += r.inserted + r.updated + r.deleted;
  }
}
