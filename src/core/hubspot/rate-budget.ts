import type pg from "pg";
import { z } from "zod";
import { rateLimitSettings } from "../config.ts";
import { currentWorkClass, DEFAULT_DAILY_RESERVE, dailyFloors, type DailyReserve } from "../daily-quota.ts";
import { AuthPausedError, DailyLimitError, formatUtc, PausedError, RESERVE_STOP, type PauseReason } from "./errors.ts";

/** Pauses that stop every bucket of every process (a missing scope stops only the calls needing it). */
export type PortalPauseReason = Exclude<PauseReason, "scopes">;

/** The error a call meets while a portal-wide pause lasts. */
export function portalPauseError(reason: PortalPauseReason, until: Date, message: string): PausedError {
  return reason === "daily" ? new DailyLimitError(until, message) : reason === "auth" ? new AuthPausedError(until, message) : new PausedError(reason, until, message);
}

/**
 * The portal-wide request budget. HubSpot counts every request of the app against one 10-second
 * burst window and one per-second search window, whichever worker process sends it, so the budget
 * lives in Postgres (hubsync.rate_budget, sql/30_pull_rate_budget.sql) and every process reserves
 * a slot before it sends. Without a pool (simulator demos, unit checks) the same sliding-window
 * rule runs in memory for this process only.
 */
/**
 * 'associations': every association and association-label call. HubSpot keeps them out of the
 * general 10-second bucket but gives them a burst window of their own (its associations guide: 100
 * per 10 s on Free/Starter, 150 on Professional/Enterprise, 200 with the limit increase).
 */
export type Bucket = "general" | "search" | "associations";

/** The associations' burst limit for a general burst limit (X-HubSpot-RateLimit-Max) of `generalMax`. */
export function associationsLimitFor(generalMax: number): number {
  return generalMax <= 110 ? 100 : generalMax <= 190 ? 150 : 200;
}

export interface BudgetLimits {
  /** HubSpot's burst limit per 10 s for this app (100 free/starter, 190 pro/enterprise, 250 with the add-on). */
  generalLimit: number;
  generalWindowMs: number;
  /**
   * Association calls: a window of their own (`own`, HubSpot's rule), the general window
   * (`general`), or none (`none`: daily quota only). HUBSYNC_ASSOCIATIONS_LIMIT.
   */
  associationsMode: "own" | "general" | "none";
  /** Their burst limit per general window, followed from the tier (associationsLimitFor). */
  associationsLimit: number;
  /** HubSpot's search limit per second (5). */
  searchLimit: number;
  searchWindowMs: number;
  /** Fraction of HubSpot's limits we allow ourselves; the rest is for other integrations and clock skew. */
  headroom: number;
  /**
   * Fraction of each window a push may take ahead of pulls and backfills (HUBSYNC_PUSH_RATE_SHARE,
   * default 0.5): within it a push gets the next free slot; beyond it, it queues with the rest.
   */
  pushShare: number;
  /**
   * The day's calls hubsync leaves to the portal's other apps (HUBSYNC_DAILY_RESERVE): nothing is
   * sent once only this many are left, and background scans stop earlier (src/core/daily-quota.ts).
   */
  dailyReserve: DailyReserve;
  /** IANA time zone whose midnight resets HubSpot's daily quota: the account's (read from account-info), or HUBSYNC_DAILY_RESET_TZ. */
  dailyResetTimeZone: string;
  /**
   * After a DAILY stop, probe again after this long even before the reset (a wrong time zone then
   * costs at most this much, not a day). HUBSYNC_DAILY_RECHECK_MS, default 1 hour.
   */
  dailyRecheckMs: number;
  /** After a 401, one probe request per this long until the token works again (HUBSYNC_AUTH_PAUSE_MS, default 60 s). */
  authPauseMs: number;
  /** After a 403 (missing scope), the refused call's job waits this long (HUBSYNC_SCOPES_PAUSE_MS, default 10 min). */
  scopesPauseMs: number;
  /**
   * Added to each window: a slot is taken just before sending, HubSpot counts the request when it
   * arrives, and arrival delays vary by a few tens of milliseconds.
   */
  marginMs: number;
}

export const DEFAULT_LIMITS: BudgetLimits = {
  generalLimit: 100,
  generalWindowMs: 10_000,
  associationsMode: "own",
  associationsLimit: 100,
  searchLimit: 5,
  searchWindowMs: 1_000,
  // The burst limit is per app, so hubsync may use nearly all of it; the shared window keeps it under.
  headroom: 0.97,
  // Enough for a steady write-back (at 100 rows per call, half of the free tier's window carries
  // ~480 rows/s) while a backfill still gets at least the other half.
  pushShare: 0.5,
  dailyReserve: DEFAULT_DAILY_RESERVE,
  dailyResetTimeZone: "UTC",
  dailyRecheckMs: 60 * 60 * 1000,
  authPauseMs: 60_000,
  scopesPauseMs: 10 * 60_000,
  marginMs: 100,
};

/** DEFAULT_LIMITS with the settings of the environment applied (see rateLimitSettings in config.ts). */
export function defaultLimits(env: NodeJS.ProcessEnv = process.env): BudgetLimits {
  return { ...DEFAULT_LIMITS, ...rateLimitSettings(env) };
}

/** The zone's offset from UTC at `at`, in ms, from Intl (no tz database of our own). */
export function zoneOffsetMs(timeZone: string, at: Date): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  const asUtc = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return asUtc - Math.floor(at.getTime() / 1000) * 1000;
}

/** When the day whose quota HubSpot counts at `now` began: the reset before the next one. */
export function dailyPeriodStart(now: Date, timeZone: string): Date {
  return nextDailyReset(new Date(now.getTime() - 24 * 60 * 60 * 1000), timeZone);
}

/**
 * When HubSpot resets the daily quota: midnight in the account's time zone (account-info reports
 * it; HUBSYNC_DAILY_RESET_TZ overrides it).
 */
export function nextDailyReset(now: Date, timeZone: string): Date {
  const offsetMs = (at: Date) => zoneOffsetMs(timeZone, at);
  const local = new Date(now.getTime() + offsetMs(now));
  const nextLocalMidnight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + 1);
  // the offset at midnight itself may differ (DST): correct once
  let guess = nextLocalMidnight - offsetMs(now);
  guess = nextLocalMidnight - offsetMs(new Date(guess));
  return new Date(guess);
}

/** A granted slot; settle it once the answer is in. */
export type Slot = unknown;

export interface RateBudget {
  /**
   * Waits until this process may send one request in the bucket. Throws DailyLimitError. `push`:
   * the request is a push's, first in line within the pushes' share of the window (pushShare).
   */
  reserve(bucket: Bucket, push?: boolean): Promise<Slot>;
  /** Moves the slot to now (the answer's arrival), so the window covers the request's arrival at HubSpot. */
  settle(bucket: Bucket, slot: Slot): Promise<void>;
  /** After a 429: nobody sends in the bucket for ms. */
  block(bucket: Bucket, ms: number, reason: string, countAs429?: boolean): Promise<void>;
  /** A portal-wide pause (every bucket, every process) until `until`, with the sentence hubsync.status shows. */
  pause(reason: PortalPauseReason, until: Date, message: string): Promise<void>;
  /** HubSpot answered a request: a pause whose probe this was is over. */
  answered(slot: Slot): Promise<void>;
  /** Learns HubSpot's real limits and the daily quota from response headers. */
  observe(headers: Record<string, string | undefined>): Promise<void>;
  readonly limits: BudgetLimits;
}

const ReserveRow = z.object({
  wait_ms: z.number().int(),
  reason: z.string().nullable(),
  slot: z.string().nullable(),
  probe: z.boolean(),
  message: z.string().nullable(),
});

/** What the pg budget hands out: the slot's time (text, microseconds kept) and whether it is a pause's probe. */
interface PgSlot {
  at: string | null;
  probe: boolean;
}

function capacityFor(limit: number, headroom: number): number {
  return Math.max(1, Math.floor(limit * headroom));
}

/** Reservations per window and the window of the associations bucket; `none` is a window nobody fills. */
function associationsWindow(limits: BudgetLimits): [capacity: number, windowMs: number] {
  if (limits.associationsMode === "none") return [1_000_000, 1_000];
  return [capacityFor(limits.associationsLimit, limits.headroom), limits.generalWindowMs + limits.marginMs];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function headerNumber(headers: Record<string, string | undefined>, name: string): number | undefined {
  const raw = headers[name] ?? headers[name.toLowerCase()];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

export function createPgRateBudget(pool: pg.Pool, overrides: Partial<BudgetLimits> = {}): RateBudget {
  const limits: BudgetLimits = { ...defaultLimits(), ...overrides };
  let configured: Promise<void> | null = null;
  // What we last wrote, so headers only cause a write when something changed.
  let knownMax: number | undefined;
  let lastDailyWrite = 0;
  let knownDaily: number | undefined;

  function configure(): Promise<void> {
    configured ??= pool
      .query(
        `insert into hubsync.rate_budget (bucket, capacity, window_ms, push_share) values ('general', $1, $2, $7), ('search', $3, $4, $7), ('associations', $5, $6, $7)
         on conflict (bucket) do update set capacity = excluded.capacity, window_ms = excluded.window_ms, push_share = excluded.push_share`,
        [
          capacityFor(limits.generalLimit, limits.headroom),
          limits.generalWindowMs + limits.marginMs,
          capacityFor(limits.searchLimit, limits.headroom),
          limits.searchWindowMs + limits.marginMs,
          ...associationsWindow(limits),
          limits.pushShare,
        ],
      )
      // A process starting up may carry a fixed token: an earlier 401 pause gives it one try
      // (its first request re-pauses everyone if the token is still refused).
      .then(() => pool.query(`select hubsync.rate_resume('auth')`))
      .then(() => undefined)
      .catch((err: unknown) => {
        configured = null;
        throw err;
      });
    return configured;
  }

  return {
    limits,
    async reserve(bucket, push = false) {
      await configure();
      for (;;) {
        // the slot travels as text: microseconds survive, which a JS Date would cut to milliseconds
        const { rows } = await pool.query(`select wait_ms, reason, slot::text, probe, message from hubsync.rate_reserve($1, $2, $3)`, [bucket, currentWorkClass(), push]);
        const row = ReserveRow.parse(rows[0]);
        if (row.wait_ms <= 0) return { at: row.slot, probe: row.probe } satisfies PgSlot;
        const until = new Date(Date.now() + row.wait_ms);
        if (row.reason === "reserve") {
          // Down to the reserve: a daily pause for every process, probed like HubSpot's own 429 DAILY
          const remaining = Number(/^-?\d+/.exec(row.message ?? "")?.[0] ?? 0);
          const lead = remaining <= 0 ? "HubSpot daily API limit reached" : RESERVE_STOP;
          const pause = dailyPause(limits, new Date(), row.message ?? "", lead);
          await pool.query(`select hubsync.rate_pause('daily', $1, $2)`, [pause.until, pause.message]);
          throw new DailyLimitError(pause.until, pause.message);
        }
        // background work is down to its floor: it waits for the reset, the rest goes on
        if (row.reason === "background") throw new PausedError("daily", until, row.message ?? "background work waits for the daily quota's reset");
        if (row.reason === "daily") throw new DailyLimitError(until, row.message ?? "stopped by an earlier DAILY 429 or the daily floor");
        if (row.reason === "auth") throw new AuthPausedError(until, row.message ?? "HubSpot rejected the access token (401) — check HUBSPOT_ACCESS_TOKEN");
        if (row.reason === "migration") throw new PausedError("migration", until, row.message ?? "HubSpot is migrating this account (477)");
        // Jitter keeps processes that wake together from racing for the same freed slot.
        await sleep(row.wait_ms + Math.floor(Math.random() * 15));
      }
    },
    async settle(bucket, slot) {
      const at = (slot as PgSlot | null)?.at;
      if (typeof at === "string") await pool.query(`select hubsync.rate_settle($1, $2::timestamptz)`, [bucket, at]);
    },
    async block(bucket, ms, reason, countAs429 = true) {
      await configure();
      await pool.query(`select hubsync.rate_block($1, $2, $3, $4)`, [bucket, Math.ceil(ms), reason, countAs429]);
    },
    async pause(reason, until, message) {
      await configure();
      await pool.query(`select hubsync.rate_pause($1, $2, $3)`, [reason, until, message]);
    },
    async answered(slot) {
      if ((slot as PgSlot | null)?.probe) await pool.query(`select hubsync.rate_resume()`);
    },
    async observe(headers) {
      const max = headerNumber(headers, "x-hubspot-ratelimit-max");
      const interval = headerNumber(headers, "x-hubspot-ratelimit-interval-milliseconds");
      if (max !== undefined && max > 0 && max !== knownMax) {
        knownMax = max;
        limits.generalLimit = max;
        if (interval) limits.generalWindowMs = interval;
        limits.associationsLimit = associationsLimitFor(max);
        await pool.query(`update hubsync.rate_budget set capacity = $1, window_ms = $2 where bucket = 'general'`, [
          capacityFor(max, limits.headroom),
          limits.generalWindowMs + limits.marginMs,
        ]);
        const [capacity, windowMs] = associationsWindow(limits);
        await pool.query(`update hubsync.rate_budget set capacity = $1, window_ms = $2 where bucket = 'associations'`, [capacity, windowMs]);
      }
      const daily = headerNumber(headers, "x-hubspot-ratelimit-daily");
      const remaining = headerNumber(headers, "x-hubspot-ratelimit-daily-remaining");
      if (remaining === undefined) return;
      const now = Date.now();
      const floors = daily !== undefined ? dailyFloors(daily, limits.dailyReserve) : null;
      // At most one write a second, but at once when HubSpot reports a new limit (a new quota), and
      // every header once the calls left come within a tenth of the day's limit of the background
      // floor. Between writes the database counts down by its own reservations only, so it misses
      // calls HubSpot counted that it never saw reserved: another app's, and ours sent before the
      // day's figures were known. Far from a floor that error costs nothing; near one, a single call
      // decides whether background work, or everything, must stop.
      const nearFloor = floors !== null && daily !== undefined && remaining <= floors.background + Math.ceil(daily / 10);
      if (!nearFloor && now - lastDailyWrite < 1_000 && daily === knownDaily) return;
      lastDailyWrite = now;
      knownDaily = daily;
      const at = new Date(now);
      // Within one day the calls left only go down: a header from an answer that left before our
      // latest reservations must not give them back (rate_reserve counts each one). A header from
      // after the reset, or with another limit (a new tier or add-on), starts afresh.
      await pool.query(
        `update hubsync.rate_budget
            set daily_limit = coalesce($1, daily_limit),
                daily_remaining = case when daily_remaining is null or daily_resets_at is null or daily_resets_at <= clock_timestamp()
                                            or daily_limit is distinct from coalesce($1, daily_limit)
                                       then $2 else least($2, daily_remaining) end,
                daily_seen_at = clock_timestamp(),
                daily_reserve = coalesce($3, daily_reserve), daily_background_floor = coalesce($4, daily_background_floor),
                daily_period_start = $5, daily_resets_at = $6, daily_time_zone = $7
          where bucket = 'general'`,
        [daily ?? null, remaining, floors?.reserve ?? null, floors?.background ?? null, dailyPeriodStart(at, limits.dailyResetTimeZone), nextDailyReset(at, limits.dailyResetTimeZone), limits.dailyResetTimeZone],
      );
    },
  };
}

/** The same sliding-window rule for one process, for when there is no database. */
export function createMemoryRateBudget(overrides: Partial<BudgetLimits> = {}): RateBudget {
  const limits: BudgetLimits = { ...defaultLimits(), ...overrides };
  const slots: Record<Bucket, Array<{ at: number }>> = { general: [], search: [], associations: [] };
  // the pushes' reservations (counted against their share) and how long others hold back for a waiting push
  const pushSlots: Record<Bucket, number[]> = { general: [], search: [], associations: [] };
  const pushWaitingUntil: Record<Bucket, number> = { general: 0, search: 0, associations: 0 };
  let paused: { until: number; reason: PortalPauseReason; message: string } | null = null;
  // the day's quota as the headers last said, counted down by each reservation (as rate_reserve does)
  let day: { limit: number; remaining: number; resetsAt: number } | null = null;
  const blocked: Record<Bucket, { until: number; reason: string }> = {
    general: { until: 0, reason: "" },
    search: { until: 0, reason: "" },
    associations: { until: 0, reason: "" },
  };
  const settings = (bucket: Bucket) => {
    if (bucket === "general") return { capacity: capacityFor(limits.generalLimit, limits.headroom), windowMs: limits.generalWindowMs + limits.marginMs };
    if (bucket === "search") return { capacity: capacityFor(limits.searchLimit, limits.headroom), windowMs: limits.searchWindowMs + limits.marginMs };
    const [capacity, windowMs] = associationsWindow(limits);
    return { capacity, windowMs };
  };
  return {
    limits,
    async reserve(bucket, push = false) {
      for (;;) {
        const now = Date.now();
        const b = blocked[bucket];
        if (paused && paused.until > now) {
          const until = new Date(paused.until);
          throw portalPauseError(paused.reason, until, paused.message);
        }
        if (b.until > now) {
          await sleep(b.until - now);
          continue;
        }
        if (day && day.resetsAt > now) {
          const floors = dailyFloors(day.limit, limits.dailyReserve);
          const floor = currentWorkClass() === "background" ? floors.background : floors.reserve;
          if (day.remaining <= floor) {
            const detail = `${day.remaining} calls left of HubSpot's daily ${day.limit}, the reserve hubsync leaves to the portal's other apps is ${floors.reserve}`;
            // background work waits for the reset; the rest stops as rate_reserve stops it: a daily pause
            if (currentWorkClass() === "background") throw new PausedError("daily", new Date(day.resetsAt), detail);
            const pause = dailyPause(limits, new Date(now), detail, day.remaining <= 0 ? "HubSpot daily API limit reached" : RESERVE_STOP);
            paused = { until: pause.until.getTime(), reason: "daily", message: pause.message };
            throw new DailyLimitError(pause.until, pause.message);
          }
        }
        const { capacity, windowMs } = settings(bucket);
        const live = slots[bucket].filter((s) => s.at > now - windowMs).sort((a, b) => a.at - b.at);
        slots[bucket] = live;
        pushSlots[bucket] = pushSlots[bucket].filter((at) => at > now - windowMs);
        const ahead = push && pushSlots[bucket].length < Math.floor(capacity * limits.pushShare);
        if (live.length >= capacity) {
          const waitMs = live[live.length - capacity]!.at + windowMs - now + 1;
          if (ahead) pushWaitingUntil[bucket] = Math.max(pushWaitingUntil[bucket], now + waitMs + 100);
          await sleep(waitMs);
          continue;
        }
        if (!ahead && pushWaitingUntil[bucket] > now) {
          // soon again rather than at the lease's end: the push clears it once it has its slot
          await sleep(Math.min(25, pushWaitingUntil[bucket] - now));
          continue;
        }
        const slot = { at: now };
        live.push(slot);
        if (push) pushSlots[bucket].push(now);
        if (ahead) pushWaitingUntil[bucket] = 0;
        if (day) day.remaining--;
        return slot;
      }
    },
    async settle(_bucket, slot) {
      if (slot && typeof slot === "object" && "at" in slot) (slot as { at: number }).at = Date.now();
    },
    async block(bucket, ms, reason) {
      blocked[bucket] = { until: Math.max(blocked[bucket].until, Date.now() + ms), reason };
    },
    async pause(reason, until, message) {
      paused = { until: until.getTime(), reason, message };
    },
    async answered() {
      paused = null;
    },
    async observe(headers) {
      const max = headerNumber(headers, "x-hubspot-ratelimit-max");
      if (max !== undefined && max > 0) {
        limits.generalLimit = max;
        limits.associationsLimit = associationsLimitFor(max);
      }
      const limit = headerNumber(headers, "x-hubspot-ratelimit-daily");
      const remaining = headerNumber(headers, "x-hubspot-ratelimit-daily-remaining");
      if (remaining !== undefined && limit !== undefined) {
        const now = Date.now();
        const sameDay = day !== null && day.resetsAt > now;
        day = { limit, remaining: sameDay ? Math.min(remaining, day!.remaining) : remaining, resetsAt: nextDailyReset(new Date(now), limits.dailyResetTimeZone).getTime() };
      }
    },
  };
}

/**
 * The daily stop: until the quota resets (midnight in the portal's time zone), but probed again
 * after dailyRecheckMs at the latest, and the sentence that says so.
 */
export function dailyPause(
  limits: Pick<BudgetLimits, "dailyResetTimeZone" | "dailyRecheckMs">,
  now: Date,
  detail: string,
  lead = "HubSpot daily API limit reached",
): { until: Date; reset: Date; message: string } {
  const reset = nextDailyReset(now, limits.dailyResetTimeZone);
  const until = new Date(Math.min(reset.getTime(), now.getTime() + limits.dailyRecheckMs));
  const zone = limits.dailyResetTimeZone === "UTC" ? "UTC midnight" : `midnight ${limits.dailyResetTimeZone}`;
  const message = `${lead}; waiting until ${formatUtc(reset)} (${zone}, when HubSpot resets the quota in the account's time zone). ${detail}`;
  return { until, reset, message };
}
