import { refreshAssociationsFor } from "../associations/refresh.ts";
import { inApplyingTransaction, withChangeSource } from "../db/transaction.ts";
import { PausedError } from "../hubspot/errors.ts";
import { applyArchives } from "../pull/archived.ts";
import type { SyncContext } from "../context.ts";
import { loadTarget } from "../pull/target.ts";
import { addCounts, applyRecords, emptyCounts, type ApplyCounts } from "../pull/upsert.ts";
import { MERGED_IDS_PROPERTY } from "../schema/object-catalog.ts";
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

const BATCH_READ = 100;
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
  const ids = [...w.records];
  for (let i = 0; i < ids.length; i += BATCH_READ) {
    const chunk = ids.slice(i, i + BATCH_READ);
    // Database time before the read: a record live in it whose local delete was sent earlier has
    // been restored in HubSpot since (a restore event), so it comes back.
    const readAt = (await deps.pool.query<{ at: Date }>(`select clock_timestamp() as at`)).rows[0]!.at;
    const live = await deps.hubspot.batchRead(target.apiName, chunk, target.allProperties);
    if (live.results.length > 0) {
      await inApplyingTransaction(deps.pool, async (client) => addCounts(totals, await applyRecords(client, target, live.results, readAt)));
    }
    // Not among the live results: archived, purged, or merged away. A merged-away id is either
    // unknown (404) or answered with the survivor, which lists it in hs_merged_object_ids (applyRecords
    // then gives its row the survivor's id); an id missing for any other reason is left alone.
    const found = new Set(live.results.map((r) => r.id));
    const merged = new Set(live.results.flatMap((r) => (r.properties[MERGED_IDS_PROPERTY] ?? "").split(";").map((id) => id.trim())));
    const unexplained = chunk.filter((id) => !found.has(id) && !merged.has(id) && !live.missing.includes(id));
    if (unexplained.length > 0) deps.log.warn({ component: "webhooks", objectType, ids: unexplained }, "batch read answered neither the record nor not-found; left as is");
    if (live.missing.length === 0) continue;
    const bin = await deps.hubspot.batchRead(target.apiName, live.missing, ["hs_object_id"], { archived: true });
    const now = new Date().toISOString();
    totals.archived += await applyArchives(deps, target, bin.results.map((r) => ({ id: r.id, archived_at: r.archivedAt ?? now })));
    // Not in the recycle bin either: purged (GDPR) or merged away; removed like the reconciliation does.
    totals.gone += await applyArchives(deps, target, bin.missing.map((id) => ({ id, archived_at: now })));
  }
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
