import { AsyncLocalStorage } from "node:async_hooks";
import { z } from "zod";
import type { Queryable } from "./db/transaction.ts";

/**
 * Who gets the account's daily API quota, and how the background scans stretch to fit it. This is
 * the one place the policy lives; the rate budget enforces its two floors on every call
 * (hubsync.rate_reserve) and the scheduled scans ask it whether they are due.
 *
 * HubSpot's daily quota belongs to the account, not to hubsync: every app of the portal draws on
 * it, and once it is gone they all get 429 DAILY until midnight in the account's time zone. So:
 *
 * | work                                                 | class      | stops when the day's calls left reach              |
 * |------------------------------------------------------|------------|----------------------------------------------------|
 * | pushes, incremental pulls, webhook applies, backfills, association refreshes | foreground | the reserve (HUBSYNC_DAILY_RESERVE, default 10% of the limit) |
 * | archived-records scan, association sweep, reconcile  | background | the reserve + FOREGROUND_SHARE of the limit (10%) |
 *
 * Background work stops first, and leaves pushes and incremental pulls a tenth of the day's quota
 * of their own: they carry what users change (on either side) and cost a few calls per minute,
 * while a single archived scan of a big recycle bin costs a thousand. Pushes and incremental pulls
 * may then spend down to the reserve and no further: the reserve is never ours.
 *
 * The scans that run on a timer stretch their intervals:
 * - the archived-records scan lists the whole recycle bin (HubSpot cannot filter it by archive
 *   time), so its interval grows with the bin: a bin of N pages is listed at most
 *   ARCHIVED_SHARE × limit / N times a day. While deletion webhooks for the type arrive, they
 *   already bring the deletes, and the scan is a safety net: its interval is WEBHOOK_STRETCH times
 *   longer;
 * - both scans slow down when the background's share of the day is spent faster than the day
 *   passes: the interval is multiplied by (day left / background allowance left), up to
 *   MAX_QUOTA_STRETCH.
 */

export type WorkKind = "push" | "incremental" | "backfill" | "webhooks" | "associations" | "archived" | "sweep" | "reconcile";
export type WorkClass = "foreground" | "background";

export const WORK_CLASS: Record<WorkKind, WorkClass> = {
  push: "foreground",
  incremental: "foreground",
  backfill: "foreground",
  webhooks: "foreground",
  associations: "foreground",
  archived: "background",
  sweep: "background",
  reconcile: "background",
};

/** Share of the daily limit background work leaves, above the reserve, to pushes and incremental pulls. */
export const FOREGROUND_SHARE = 0.1;
/** Share of the daily limit the archived-records scans of all types may use in a day, at most. */
export const ARCHIVED_SHARE = 0.2;
/** While deletion webhooks arrive for a type, its archived scan runs this many times less often. */
export const WEBHOOK_STRETCH = 4;
/** However far behind the background's pace is, a scan waits at most this many intervals (then the floor stops it). */
export const MAX_QUOTA_STRETCH = 8;
/** The crontab's own intervals: the shortest a scan is ever repeated. */
export const BASE_INTERVAL_MS: Record<"archived" | "sweep", number> = { archived: 5 * 60_000, sweep: 10 * 60_000 };
/** Records per page of the archived list. */
const PAGE = 100;
const DAY_MS = 24 * 60 * 60_000;

/** HUBSYNC_DAILY_RESERVE: a share of the daily limit ("10%") or a number of calls ("25000"). */
export type DailyReserve = { percent: number } | { calls: number };
export const DEFAULT_DAILY_RESERVE: DailyReserve = { percent: 10 };

/** The two floors, in calls left today, for a daily limit. */
export function dailyFloors(limit: number, reserve: DailyReserve): { reserve: number; background: number } {
  const kept = "calls" in reserve ? reserve.calls : Math.round((limit * reserve.percent) / 100);
  const r = Math.min(limit, Math.max(0, kept));
  return { reserve: r, background: Math.min(limit, r + Math.round(limit * FOREGROUND_SHARE)) };
}

/** The day's quota as the rate budget last saw it (hubsync.rate_budget, bucket 'general'). */
export interface DailyState {
  limit: number;
  remaining: number;
  reserve: number;
  backgroundFloor: number;
  /** When the quota resets (midnight in the account's time zone). */
  resetsAt: Date;
}

/** How much longer than its base interval a background scan waits, for where the day stands. */
export function quotaStretch(day: DailyState | null, now: Date): number {
  if (!day || now >= day.resetsAt) return 1;
  const allowance = day.limit - day.backgroundFloor;
  if (allowance <= 0) return MAX_QUOTA_STRETCH;
  const left = Math.max(0, day.remaining - day.backgroundFloor) / allowance;
  const dayLeft = Math.min(1, (day.resetsAt.getTime() - now.getTime()) / DAY_MS);
  if (left <= 0) return MAX_QUOTA_STRETCH;
  return Math.min(MAX_QUOTA_STRETCH, Math.max(1, dayLeft / left));
}

/**
 * The archived-records scan's interval for one type: its bin's listing cost against the share of
 * the day scans may use (all types' bins together: `binPagesAll`), longer while deletion webhooks
 * arrive, and stretched by the day's pace. Without a known daily limit (OAuth apps have none), the
 * base interval.
 */
export function archivedInterval(input: { day: DailyState | null; binPagesAll: number; webhookDeletes: boolean; now: Date }): number {
  const { day, binPagesAll, webhookDeletes, now } = input;
  let ms = BASE_INTERVAL_MS.archived;
  if (day) {
    const scansPerDay = (ARCHIVED_SHARE * day.limit) / Math.max(1, binPagesAll);
    ms = Math.max(ms, DAY_MS / scansPerDay);
  }
  if (webhookDeletes) ms *= WEBHOOK_STRETCH;
  return Math.round(ms * quotaStretch(day, now));
}

/** The association sweep's interval: its base, stretched by the day's pace. */
export function sweepInterval(input: { day: DailyState | null; now: Date }): number {
  return Math.round(BASE_INTERVAL_MS.sweep * quotaStretch(input.day, input.now));
}

/** Pages a listing of `records` archived records costs. */
export function pagesFor(records: number): number {
  return Math.max(1, Math.ceil(records / PAGE));
}

/** Whether background work may start now at all (the SQL floor stops it mid-run too). */
export function backgroundMayRun(day: DailyState | null, now: Date): boolean {
  return !day || now >= day.resetsAt || day.remaining > day.backgroundFloor;
}

const current = new AsyncLocalStorage<WorkKind>();

/** Runs fn with every HubSpot call it makes counted as `kind`'s (its class decides which floor stops it). */
export function asWork<T>(kind: WorkKind, fn: () => Promise<T>): Promise<T> {
  return current.run(kind, fn);
}

/** The class of the work the current call belongs to; foreground unless a background scan said otherwise. */
export function currentWorkClass(): WorkClass {
  const kind = current.getStore();
  return kind ? WORK_CLASS[kind] : "foreground";
}

/** The day's quota as hubsync.rate_budget holds it, or null while HubSpot has not reported one (OAuth apps have none). */
export async function readDailyState(db: Queryable): Promise<DailyState | null> {
  const { rows } = await db.query(
    `select daily_limit, daily_remaining, daily_reserve, daily_background_floor, daily_resets_at
       from hubsync.rate_budget where bucket = 'general' and daily_limit is not null and daily_remaining is not null and daily_resets_at is not null`,
  );
  if (!rows[0]) return null;
  const r = DailyRow.parse(rows[0]);
  const floors = dailyFloors(r.daily_limit, DEFAULT_DAILY_RESERVE);
  return {
    limit: r.daily_limit,
    remaining: r.daily_remaining,
    reserve: r.daily_reserve ?? floors.reserve,
    backgroundFloor: r.daily_background_floor ?? floors.background,
    resetsAt: r.daily_resets_at,
  };
}

const DailyRow = z.object({
  daily_limit: z.coerce.number(),
  daily_remaining: z.coerce.number(),
  daily_reserve: z.coerce.number().nullable(),
  daily_background_floor: z.coerce.number().nullable(),
  daily_resets_at: z.date(),
});
