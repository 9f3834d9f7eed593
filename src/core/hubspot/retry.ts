import { formatUtc, HubSpotError, type Failure, type PauseReason } from "./errors.ts";
import { dailyPause, type BudgetLimits, type Bucket } from "./rate-budget.ts";

/**
 * What the client does after a request failed, decided from the failure alone (no I/O, no clock
 * but `now`, no randomness but `random`), so every branch can be checked without HTTP. The client
 * carries the decision out: records a pause, blocks a bucket, sleeps, or throws.
 */
export type Decision =
  /** Give up on this request: `error` is what the caller sees. */
  | { kind: "fail"; error: Error }
  /**
   * Nothing may call HubSpot before `until`. `portalWide`: every process and bucket stops (the
   * pause is recorded in the shared budget); otherwise only calls that need what was refused wait.
   */
  | { kind: "pause"; reason: PauseReason; portalWide: boolean; until: Date; message: string }
  /**
   * A 429 for a window: nobody sends in the bucket for `waitMs`, then this request goes again;
   * or, with `giveUp`, the bucket still waits but this request has waited too often and fails.
   */
  | { kind: "wait-window"; waitMs: number; policy: string; giveUp?: Error }
  /** A transient failure: send again after `waitMs`. */
  | { kind: "retry"; waitMs: number };

/** How many failures of each kind this request has met, this one included. */
export interface Attempts {
  /** 5xx, timeouts, dropped connections. */
  failures: number;
  /** 429s for a window. */
  limited: number;
}

export interface RetryPolicy {
  maxAttempts: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  limits: Pick<BudgetLimits, "authPauseMs" | "scopesPauseMs" | "dailyResetTimeZone" | "dailyRecheckMs">;
}

export interface FailedRequest {
  failure: Failure;
  bucket: Bucket;
  /** false: a request that must not be sent twice (see CallOptions.idempotent). */
  idempotent: boolean;
  /** Names the request in messages. */
  label?: string;
}

/** 429s for a window one request may wait out before the caller hears of it. */
export const MAX_RATE_LIMITED = 12;
/** HubSpot's per-second limits (search, and the SECONDLY policy) clear within a second; a little more covers clock skew. */
const SECONDLY_WAIT_MS = 1_100;
/** The general burst window when HubSpot does not name its length in X-HubSpot-RateLimit-Interval-Milliseconds. */
const TEN_SECONDLY_WAIT_MS = 10_000;

export const AUTH_MESSAGE = "HubSpot rejected the access token (401) — check HUBSPOT_ACCESS_TOKEN (expired, revoked, or for another account)";
export const MALFORMED_TOKEN_MESSAGE = "HubSpot could not read the access token (530) — check HUBSPOT_ACCESS_TOKEN (the whole token, without quotes or spaces)";
/** How long a 477 without Retry-After pauses everything (HubSpot: migrations typically take up to hours). */
export const MIGRATION_DEFAULT_PAUSE_MS = 60 * 60 * 1000;

/** The scopes HubSpot says are missing (403 MISSING_SCOPES: errors[].context.requiredGranularScopes). */
export function missingScopes(err: HubSpotError): string[] {
  const out = new Set<string>();
  for (const e of err.body?.errors ?? []) {
    const ctx = (e as { context?: Record<string, unknown> } | null)?.context;
    for (const key of ["requiredGranularScopes", "requiredScopes", "missingScopes"]) {
      const v = ctx?.[key];
      if (Array.isArray(v)) for (const s of v) if (typeof s === "string") out.add(s);
    }
  }
  return [...out];
}

/** The attempt counts once `failure` is added to them. */
export function countFailure(attempts: Attempts, failure: Failure): Attempts {
  if (failure.kind === "rate_limited") return { ...attempts, limited: attempts.limited + 1 };
  if (failure.kind === "transient") return { ...attempts, failures: attempts.failures + 1 };
  return attempts;
}

/**
 * The decision for one failed request. `attempts` already counts this failure (countFailure).
 * `random` in [0, 1) spreads the backoff of processes that failed together.
 */
export function decide(request: FailedRequest, attempts: Attempts, policy: RetryPolicy, now: Date, random: number): Decision {
  const { failure, bucket, idempotent, label } = request;
  if (failure.kind === "fatal") {
    const e = failure.error;
    if (e instanceof HubSpotError && (e.status === 401 || e.status === 530)) {
      // A refused token fails every request alike: one portal-wide pause with one probe a minute,
      // instead of every job retrying on its own.
      const message = e.status === 401 ? AUTH_MESSAGE : MALFORMED_TOKEN_MESSAGE;
      return { kind: "pause", reason: "auth", portalWide: true, until: new Date(now.getTime() + policy.limits.authPauseMs), message };
    }
    if (e instanceof HubSpotError && e.status === 403) {
      const scopes = missingScopes(e);
      const message =
        `HubSpot refused ${label ?? "the request"} (403 ${e.category ?? "FORBIDDEN"})` +
        (scopes.length ? `: the token lacks scope ${scopes.join(", ")} — add it to the Service Key's (or app's) scopes in HubSpot` : `: ${e.body?.message ?? "forbidden"}`);
      return { kind: "pause", reason: "scopes", portalWide: false, until: new Date(now.getTime() + policy.limits.scopesPauseMs), message };
    }
    return { kind: "fail", error: e };
  }
  if (failure.kind === "migration") {
    // Every call of the account fails alike until HubSpot is done: one portal-wide pause, not a
    // sleep inside each job (which would hold worker slots for hours).
    const until = new Date(now.getTime() + (failure.retryAfterMs ?? MIGRATION_DEFAULT_PAUSE_MS));
    return {
      kind: "pause",
      reason: "migration",
      portalWide: true,
      until,
      message: `HubSpot is migrating this account (477 Migration in progress); hubsync waits until ${formatUtc(until)} as HubSpot asked`,
    };
  }
  if (failure.kind === "rate_limited") {
    const policyName = failure.policy.toUpperCase();
    if (policyName === "DAILY") {
      const { until, message } = dailyPause(policy.limits, now, `HubSpot said: ${failure.body?.message ?? "DAILY 429"}`);
      return { kind: "pause", reason: "daily", portalWide: true, until, message };
    }
    const interval = Number(failure.headers["x-hubspot-ratelimit-interval-milliseconds"]);
    const waitMs =
      policyName === "SECONDLY" || bucket === "search" ? SECONDLY_WAIT_MS : Number.isFinite(interval) && interval > 0 ? interval : TEN_SECONDLY_WAIT_MS;
    return {
      kind: "wait-window",
      waitMs,
      policy: policyName,
      ...(attempts.limited > MAX_RATE_LIMITED ? { giveUp: new HubSpotError(429, failure.body, "still rate limited after many waits") } : {}),
    };
  }
  if ((!idempotent && failure.sent) || attempts.failures >= policy.maxAttempts) {
    return { kind: "fail", error: new HubSpotError(failure.status, { message: failure.message }, `${failure.message} (after ${attempts.failures} attempts)`) };
  }
  const exp = Math.min(policy.backoffCapMs, policy.backoffBaseMs * 2 ** (attempts.failures - 1));
  return { kind: "retry", waitMs: Math.max(failure.retryAfterMs ?? 0, exp / 2 + random * (exp / 2)) };
}
