import type pg from "pg";
import { z } from "zod";

/**
 * The portal-wide request budget. HubSpot counts every request of the app against one 10-second
 * burst window and one per-second search window, whichever worker process sends it, so the budget
 * lives in Postgres (hubsync.rate_budget, sql/30_pull_rate_budget.sql) and every process reserves
 * a slot before it sends. Without a pool (simulator demos, unit checks) the same sliding-window
 * rule runs in memory for this process only.
 */
/** 'associations': v4 association batch endpoints, which HubSpot exempts from the 10-second limit (daily quota only). */
export type Bucket = "general" | "search" | "associations";

export interface BudgetLimits {
  /** HubSpot's burst limit per 10 s for this app (100 free/starter, 190 pro/enterprise, 250 with the add-on). */
  generalLimit: number;
  generalWindowMs: number;
  /** HubSpot's search limit per second (5). */
  searchLimit: number;
  searchWindowMs: number;
  /** Fraction of HubSpot's limits we allow ourselves; the rest is for other integrations and clock skew. */
  headroom: number;
  /** Below this many daily calls left, stop (0 = only stop when HubSpot says so). */
  dailyFloor: number;
  /**
   * Added to each window: a slot is taken just before sending, HubSpot counts the request when it
   * arrives, and arrival delays vary by a few tens of milliseconds.
   */
  marginMs: number;
}

export const DEFAULT_LIMITS: BudgetLimits = {
  generalLimit: 100,
  generalWindowMs: 10_000,
  searchLimit: 5,
  searchWindowMs: 1_000,
  // The burst limit is per app, so hubsync may use nearly all of it; the shared window keeps it under.
  headroom: 0.97,
  dailyFloor: 0,
  marginMs: 100,
};

const Headroom = z.coerce.number().gt(0).max(1);

/** DEFAULT_LIMITS with HUBSYNC_RATE_HEADROOM (a fraction, e.g. 0.8 to leave room for other integrations) applied. */
export function defaultLimits(env: NodeJS.ProcessEnv = process.env): BudgetLimits {
  const raw = env.HUBSYNC_RATE_HEADROOM;
  if (raw === undefined || raw === "") return { ...DEFAULT_LIMITS };
  const parsed = Headroom.safeParse(raw);
  if (!parsed.success) throw new Error(`hubsync: HUBSYNC_RATE_HEADROOM must be a fraction in (0, 1], got "${raw}"`);
  return { ...DEFAULT_LIMITS, headroom: parsed.data };
}

export class DailyLimitError extends Error {
  readonly until: Date;
  constructor(until: Date, detail: string) {
    super(`HubSpot daily API limit reached (${detail}); hubsync sends nothing before ${until.toISOString()}`);
    this.name = "DailyLimitError";
    this.until = until;
  }
}

/** A granted slot; settle it once the answer is in. */
export type Slot = unknown;

export interface RateBudget {
  /** Waits until this process may send one request in the bucket. Throws DailyLimitError. */
  reserve(bucket: Bucket): Promise<Slot>;
  /** Moves the slot to now (the answer's arrival), so the window covers the request's arrival at HubSpot. */
  settle(bucket: Bucket, slot: Slot): Promise<void>;
  /** After a 429: nobody sends in the bucket for ms. */
  block(bucket: Bucket, ms: number, reason: string, countAs429?: boolean): Promise<void>;
  /** Learns HubSpot's real limits and the daily quota from response headers. */
  observe(headers: Record<string, string | undefined>): Promise<void>;
  readonly limits: BudgetLimits;
}

const ReserveRow = z.object({ wait_ms: z.number().int(), reason: z.string().nullable(), slot: z.string().nullable() });

function capacityFor(limit: number, headroom: number): number {
  return Math.max(1, Math.floor(limit * headroom));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How long the day's stop lasts before we probe again (HubSpot resets at midnight in the portal's time zone, which we do not know). */
const DAILY_PROBE_MS = 60 * 60 * 1000;

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

  function configure(): Promise<void> {
    configured ??= pool
      .query(
        `insert into hubsync.rate_budget (bucket, capacity, window_ms) values ('general', $1, $2), ('search', $3, $4), ('associations', 1, 1000)
         on conflict (bucket) do update set capacity = excluded.capacity, window_ms = excluded.window_ms`,
        [
          capacityFor(limits.generalLimit, limits.headroom),
          limits.generalWindowMs + limits.marginMs,
          capacityFor(limits.searchLimit, limits.headroom),
          limits.searchWindowMs + limits.marginMs,
        ],
      )
      .then(() => undefined)
      .catch((err: unknown) => {
        configured = null;
        throw err;
      });
    return configured;
  }

  return {
    limits,
    async reserve(bucket) {
      await configure();
      for (;;) {
        // the slot travels as text: microseconds survive, which a JS Date would cut to milliseconds
        const { rows } = await pool.query(`select wait_ms, reason, slot::text from hubsync.rate_reserve($1)`, [bucket]);
        const row = ReserveRow.parse(rows[0]);
        if (row.wait_ms <= 0) return row.slot;
        if (row.reason === "daily") throw new DailyLimitError(new Date(Date.now() + row.wait_ms), "stopped by an earlier DAILY 429 or the daily floor");
        // Jitter keeps processes that wake together from racing for the same freed slot.
        await sleep(row.wait_ms + Math.floor(Math.random() * 15));
      }
    },
    async settle(bucket, slot) {
      if (typeof slot === "string") await pool.query(`select hubsync.rate_settle($1, $2::timestamptz)`, [bucket, slot]);
    },
    async block(bucket, ms, reason, countAs429 = true) {
      await configure();
      await pool.query(`select hubsync.rate_block($1, $2, $3, $4)`, [bucket, Math.ceil(ms), reason, countAs429]);
    },
    async observe(headers) {
      const max = headerNumber(headers, "x-hubspot-ratelimit-max");
      const interval = headerNumber(headers, "x-hubspot-ratelimit-interval-milliseconds");
      if (max !== undefined && max > 0 && max !== knownMax) {
        knownMax = max;
        limits.generalLimit = max;
        if (interval) limits.generalWindowMs = interval;
        await pool.query(`update hubsync.rate_budget set capacity = $1, window_ms = $2 where bucket = 'general'`, [
          capacityFor(max, limits.headroom),
          limits.generalWindowMs + limits.marginMs,
        ]);
      }
      const daily = headerNumber(headers, "x-hubspot-ratelimit-daily");
      const remaining = headerNumber(headers, "x-hubspot-ratelimit-daily-remaining");
      if (remaining === undefined) return;
      const now = Date.now();
      const belowFloor = limits.dailyFloor > 0 && remaining <= limits.dailyFloor;
      if (!belowFloor && now - lastDailyWrite < 1_000) return;
      lastDailyWrite = now;
      await pool.query(
        `update hubsync.rate_budget
            set daily_limit = coalesce($1, daily_limit), daily_remaining = $2, daily_seen_at = clock_timestamp(),
                blocked_until = case when $3 then clock_timestamp() + make_interval(secs => $4 / 1000.0) else blocked_until end,
                blocked_reason = case when $3 then 'daily' else blocked_reason end
          where bucket = 'general'`,
        [daily ?? null, remaining, belowFloor, DAILY_PROBE_MS],
      );
    },
  };
}

/** The same sliding-window rule for one process, for when there is no database. */
export function createMemoryRateBudget(overrides: Partial<BudgetLimits> = {}): RateBudget {
  const limits: BudgetLimits = { ...defaultLimits(), ...overrides };
  const slots: Record<Bucket, Array<{ at: number }>> = { general: [], search: [], associations: [] };
  const blocked: Record<Bucket, { until: number; reason: string }> = {
    general: { until: 0, reason: "" },
    search: { until: 0, reason: "" },
    associations: { until: 0, reason: "" },
  };
  const settings = (bucket: Bucket) =>
    bucket === "general"
      ? { capacity: capacityFor(limits.generalLimit, limits.headroom), windowMs: limits.generalWindowMs + limits.marginMs }
      : { capacity: capacityFor(limits.searchLimit, limits.headroom), windowMs: limits.searchWindowMs + limits.marginMs };
  return {
    limits,
    async reserve(bucket) {
      for (;;) {
        const now = Date.now();
        const b = blocked[bucket];
        if (blocked.general.until > now && blocked.general.reason === "daily") {
          throw new DailyLimitError(new Date(blocked.general.until), "stopped by an earlier DAILY 429");
        }
        if (b.until > now) {
          await sleep(b.until - now);
          continue;
        }
        if (bucket === "associations") return null;
        const { capacity, windowMs } = settings(bucket);
        const live = slots[bucket].filter((s) => s.at > now - windowMs).sort((a, b) => a.at - b.at);
        slots[bucket] = live;
        if (live.length < capacity) {
          const slot = { at: now };
          live.push(slot);
          return slot;
        }
        await sleep(live[live.length - capacity]!.at + windowMs - now + 1);
      }
    },
    async settle(_bucket, slot) {
      if (slot && typeof slot === "object" && "at" in slot) (slot as { at: number }).at = Date.now();
    },
    async block(bucket, ms, reason) {
      blocked[bucket] = { until: Math.max(blocked[bucket].until, Date.now() + ms), reason };
    },
    async observe(headers) {
      const max = headerNumber(headers, "x-hubspot-ratelimit-max");
      if (max !== undefined && max > 0) limits.generalLimit = max;
      const remaining = headerNumber(headers, "x-hubspot-ratelimit-daily-remaining");
      if (remaining !== undefined && limits.dailyFloor > 0 && remaining <= limits.dailyFloor) {
        blocked.general = { until: Date.now() + DAILY_PROBE_MS, reason: "daily" };
      }
    },
  };
}
