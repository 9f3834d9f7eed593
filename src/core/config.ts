import { z } from "zod";
import type { DailyReserve } from "./daily-quota.ts";
import { API_VERSIONS, DEFAULT_API_VERSION, type ApiVersion } from "./hubspot/paths/version.ts";

/**
 * An optional number setting: unset or empty means "the default"; anything else must pass `ok`,
 * or the one-line error names the variable, what it must be and what it got.
 */
function numberSetting(name: string, ok: (n: number) => boolean, mustBe: string) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw === "") return undefined;
      const n = Number(raw);
      if (Number.isFinite(n) && ok(n)) return n;
      ctx.addIssue({ code: "custom", message: `${name} must be ${mustBe}, got "${raw}"` });
      return z.NEVER;
    });
}

const milliseconds = (name: string) => numberSetting(name, (n) => Number.isInteger(n) && n >= 1, "a positive number of milliseconds");

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The settings of the portal-wide rate budget (src/core/hubspot/rate-budget.ts). */
const RateEnvSchema = z.object({
  /** Share of HubSpot's limits hubsync uses, e.g. 0.8 to leave room for other integrations (default 0.97). */
  HUBSYNC_RATE_HEADROOM: numberSetting("HUBSYNC_RATE_HEADROOM", (n) => n > 0 && n <= 1, "a fraction in (0, 1]"),
  /** Share of each rate window a push (write-back) may take ahead of pulls and backfills (default 0.5; 0 = no precedence). */
  HUBSYNC_PUSH_RATE_SHARE: numberSetting("HUBSYNC_PUSH_RATE_SHARE", (n) => n >= 0 && n <= 1, "a fraction in [0, 1]"),
  /** IANA time zone whose midnight resets HubSpot's daily quota (the HubSpot account's; default UTC). */
  HUBSYNC_DAILY_RESET_TZ: z
    .string()
    .optional()
    .transform((tz, ctx) => {
      if (!tz) return undefined;
      if (isTimeZone(tz)) return tz;
      ctx.addIssue({
        code: "custom",
        message: `HUBSYNC_DAILY_RESET_TZ must be an IANA time zone such as "America/New_York" (your HubSpot account's), got "${tz}"`,
      });
      return z.NEVER;
    }),
  /**
   * The day's API calls hubsync leaves to the portal's other apps: a share of HubSpot's daily limit
   * ("10%", the default) or a number of calls ("25000"). HubSpot's daily quota is the account's.
   */
  HUBSYNC_DAILY_RESERVE: z
    .string()
    .optional()
    .transform((raw, ctx): DailyReserve | undefined => {
      if (raw === undefined || raw.trim() === "") return undefined;
      const v = raw.trim();
      const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(v);
      if (percent && Number(percent[1]) <= 100) return { percent: Number(percent[1]) };
      if (/^\d+$/.test(v)) return { calls: Number(v) };
      ctx.addIssue({ code: "custom", message: `HUBSYNC_DAILY_RESERVE must be a share of the daily limit such as "10%" or a number of calls such as "25000", got "${raw}"` });
      return z.NEVER;
    }),
  /** After a DAILY stop, probe again after this long even before the reset (default 1 hour). */
  HUBSYNC_DAILY_RECHECK_MS: milliseconds("HUBSYNC_DAILY_RECHECK_MS"),
  /** After a 401, one probe request per this long (default 60 s). */
  HUBSYNC_AUTH_PAUSE_MS: milliseconds("HUBSYNC_AUTH_PAUSE_MS"),
  /** After a 403 for a missing scope, the refused call's job waits this long (default 10 min). */
  HUBSYNC_SCOPES_PAUSE_MS: milliseconds("HUBSYNC_SCOPES_PAUSE_MS"),
  /**
   * Which burst window association calls keep to: `own` (default; HubSpot limits them apart from
   * the general bucket), `general` (they share the general window) or `none` (daily quota only).
   */
  HUBSYNC_ASSOCIATIONS_LIMIT: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return undefined;
      if (v === "own" || v === "general" || v === "none") return v;
      ctx.addIssue({ code: "custom", message: `HUBSYNC_ASSOCIATIONS_LIMIT must be own, general or none, got "${v}"` });
      return z.NEVER;
    }),
});

/**
 * `hubsync worker`'s heap limit when HUBSYNC_MAX_HEAP_MB is unset. Node's own limit grows with the
 * machine's memory (4 GB on a 24 GB host) and V8 collects lazily below it, so a worker that keeps a
 * page or two of records at a time still grew past 300 MB. 256 MB is several times what a
 * million-record backfill keeps live, and keeps the whole process under 300 MB.
 */
export const DEFAULT_MAX_HEAP_MB = 256;

/** The least HUBSYNC_MAX_HEAP_MB accepted: below this, the worker fails on its own code and libraries. */
export const MIN_MAX_HEAP_MB = 96;

const maxHeapMb = numberSetting(
  "HUBSYNC_MAX_HEAP_MB",
  (n) => Number.isInteger(n) && (n === 0 || n >= MIN_MAX_HEAP_MB),
  `a whole number of megabytes, at least ${MIN_MAX_HEAP_MB} (or 0 for Node's own limit)`,
);

/** A node flag that sizes V8's heap (what HUBSYNC_MAX_HEAP_MB sets for the worker). */
export const HEAP_SIZE_FLAG = /^--max-(old|semi)-space-size\b/;

/**
 * The heap limit in MB that `hubsync worker` gives itself: HUBSYNC_MAX_HEAP_MB, else the default;
 * null for Node's own (HUBSYNC_MAX_HEAP_MB=0, or unset while NODE_OPTIONS sets a limit already,
 * which an operator chose on purpose).
 */
export function maxHeapSetting(source: NodeJS.ProcessEnv = process.env): number | null {
  const parsed = z.object({ HUBSYNC_MAX_HEAP_MB: maxHeapMb }).safeParse(source);
  if (!parsed.success) throw new Error(`hubsync: ${problemsOf(parsed.error)}`);
  const mb = parsed.data.HUBSYNC_MAX_HEAP_MB;
  if (mb === 0) return null;
  if (mb === undefined && /--max-old-space-size\b/.test(source.NODE_OPTIONS ?? "")) return null;
  return mb ?? DEFAULT_MAX_HEAP_MB;
}

/** Environment of a hubsync process, checked once at start so a typo fails loudly, not later. */
const EnvSchema = RateEnvSchema.extend({
  DATABASE_URL: z.string().url({ message: "DATABASE_URL must be a postgres:// URL" }).optional(),
  HUBSPOT_ACCESS_TOKEN: z.string().min(1).optional(),
  HUBSPOT_BASE_URL: z.string().url({ message: "HUBSPOT_BASE_URL must be an http(s) URL" }).default("https://api.hubapi.com"),
  HUBSPOT_WEBHOOK_SECRET: z.string().optional(),
  /**
   * Which HubSpot API paths hubsync calls: a dated version (`/crm/objects/2026-09/…`, the default)
   * or `legacy` (v3/v4, unsupported by HubSpot from 2027-03-30 for v4 and September 2027 for v3).
   */
  HUBSYNC_HUBSPOT_API: z
    .string()
    .optional()
    .transform((v, ctx): ApiVersion => {
      if (v === undefined || v === "") return DEFAULT_API_VERSION;
      if ((API_VERSIONS as readonly string[]).includes(v)) return v as ApiVersion;
      ctx.addIssue({ code: "custom", message: `HUBSYNC_HUBSPOT_API must be one of ${API_VERSIONS.join(", ")} (default ${DEFAULT_API_VERSION}), got "${v}"` });
      return z.NEVER;
    }),
  /** A HubSpot request unanswered this long is abandoned and retried (default 30 s). */
  HUBSYNC_HTTP_TIMEOUT_MS: z.coerce.number().int().positive().optional(),
  /** Attempts per HubSpot request on 5xx, timeouts and dropped connections (default 6). */
  HUBSYNC_HTTP_MAX_ATTEMPTS: z.coerce.number().int().positive().optional(),
  /**
   * Characters of property names hubsync puts in one GET URL before it reads records by id and
   * batch read instead. HubSpot answers 414 only past about 16,300 characters of URL (connectors
   * chunk to that figure); the default keeps a margin for the rest of the URL. A 414 lowers it
   * for the portal (remembered in hubsync.cursors).
   */
  HUBSYNC_URL_BUDGET: z.coerce.number().int().positive().default(15_000),
  /** Where every alert that opens or closes is posted as JSON (Slack-compatible `text`); unset: none. */
  HUBSYNC_ALERT_WEBHOOK_URL: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return undefined;
      if (/^https?:\/\/[^\s]+$/.test(v) && URL.canParse(v)) return v;
      // the URL may hold a secret (a Slack webhook's does): not repeated in the message
      ctx.addIssue({ code: "custom", message: "HUBSYNC_ALERT_WEBHOOK_URL must be an http(s) URL" });
      return z.NEVER;
    }),
  /** The V8 heap limit `hubsync worker` runs with, in MB (maxHeapSetting below). */
  HUBSYNC_MAX_HEAP_MB: maxHeapMb,
});

export type Env = z.infer<typeof EnvSchema>;

export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    throw new Error(`hubsync: bad environment: ${problemsOf(parsed.error)}`);
  }
  return parsed.data;
}

function problemsOf(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const name = i.path.join(".");
      return i.message.startsWith(name) ? i.message : `${name}: ${i.message}`;
    })
    .join("; ");
}

/**
 * The rate budget's settings that the environment sets (only those set), under the budget's own
 * names. Read where a budget is made, so every client of the process agrees.
 */
export function rateLimitSettings(source: NodeJS.ProcessEnv = process.env): {
  headroom?: number;
  pushShare?: number;
  dailyResetTimeZone?: string;
  dailyRecheckMs?: number;
  dailyReserve?: DailyReserve;
  authPauseMs?: number;
  scopesPauseMs?: number;
  associationsMode?: "own" | "general" | "none";
} {
  const parsed = RateEnvSchema.safeParse(source);
  if (!parsed.success) throw new Error(`hubsync: ${problemsOf(parsed.error)}`);
  const e = parsed.data;
  return {
    ...(e.HUBSYNC_RATE_HEADROOM !== undefined ? { headroom: e.HUBSYNC_RATE_HEADROOM } : {}),
    ...(e.HUBSYNC_PUSH_RATE_SHARE !== undefined ? { pushShare: e.HUBSYNC_PUSH_RATE_SHARE } : {}),
    ...(e.HUBSYNC_DAILY_RESET_TZ !== undefined ? { dailyResetTimeZone: e.HUBSYNC_DAILY_RESET_TZ } : {}),
    ...(e.HUBSYNC_DAILY_RECHECK_MS !== undefined ? { dailyRecheckMs: e.HUBSYNC_DAILY_RECHECK_MS } : {}),
    ...(e.HUBSYNC_DAILY_RESERVE !== undefined ? { dailyReserve: e.HUBSYNC_DAILY_RESERVE } : {}),
    ...(e.HUBSYNC_AUTH_PAUSE_MS !== undefined ? { authPauseMs: e.HUBSYNC_AUTH_PAUSE_MS } : {}),
    ...(e.HUBSYNC_SCOPES_PAUSE_MS !== undefined ? { scopesPauseMs: e.HUBSYNC_SCOPES_PAUSE_MS } : {}),
    ...(e.HUBSYNC_ASSOCIATIONS_LIMIT !== undefined ? { associationsMode: e.HUBSYNC_ASSOCIATIONS_LIMIT } : {}),
  };
}

export function requireDatabaseUrl(env: Env): string {
  if (!env.DATABASE_URL) throw new Error("hubsync: DATABASE_URL is not set (e.g. postgres://user@localhost/db)");
  return env.DATABASE_URL;
}

export function requireAccessToken(env: Env): string {
  if (!env.HUBSPOT_ACCESS_TOKEN) {
    throw new Error("hubsync: HUBSPOT_ACCESS_TOKEN is not set (a HubSpot private-app token, or any token for the simulator)");
  }
  return env.HUBSPOT_ACCESS_TOKEN;
}

/** The HubSpot client's API version, timeout and retry settings from the environment. */
export function httpOptions(env: Env): { apiVersion: ApiVersion; timeoutMs?: number; maxAttempts?: number } {
  return {
    apiVersion: env.HUBSYNC_HUBSPOT_API,
    ...(env.HUBSYNC_HTTP_TIMEOUT_MS ? { timeoutMs: env.HUBSYNC_HTTP_TIMEOUT_MS } : {}),
    ...(env.HUBSYNC_HTTP_MAX_ATTEMPTS ? { maxAttempts: env.HUBSYNC_HTTP_MAX_ATTEMPTS } : {}),
  };
}
