import { nextDailyReset } from "../core/hubspot/rate-budget.ts";
import type { RateLimitConfig } from "./config.ts";
import type { RateClass } from "./router.ts";

/**
 * HubSpot's limits: a rolling ten-secondly burst bucket, a per-second bucket for
 * search (exempt from the burst bucket, no headers on its responses), a rolling window of its own
 * for the association endpoints (also exempt from the burst bucket) and a daily quota that resets
 * at midnight in the account's time zone, as HubSpot's does. Rejected requests are not counted.
 */

export interface RateDecision {
  /** Set when the request is refused. */
  policy?: "TEN_SECONDLY_ROLLING" | "SECONDLY" | "DAILY";
  /** The refusing window is the associations' own, not the general burst bucket. */
  associations?: boolean;
  headers: Record<string, string>;
}

/** Timestamps of accepted requests in a rolling window. */
class Window {
  private times: number[] = [];
  private head = 0;
  count(now: number, windowMs: number): number {
    while (this.head < this.times.length && this.times[this.head]! <= now - windowMs) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }
  add(now: number): void {
    this.times.push(now);
  }
  clear(): void {
    this.times = [];
    this.head = 0;
  }
}

export class RateLimiter {
  private burst = new Window();
  private search = new Window();
  private associations = new Window();
  private dailyUsed = 0;
  /** When the current day's quota ends, in the zone it was computed for (null before the first call). */
  private dayEnds: { at: number; timeZone: string } | null = null;

  reset(): void {
    this.burst.clear();
    this.search.clear();
    this.associations.clear();
    this.dailyUsed = 0;
  }

  check(rateClass: RateClass, limits: RateLimitConfig | null, timeZone = "UTC", now = Date.now()): RateDecision {
    if (!limits || rateClass === "none") return { headers: {} };
    if (!this.dayEnds || this.dayEnds.timeZone !== timeZone || now >= this.dayEnds.at) {
      // a new day starts the count again; a changed zone only moves the coming reset
      if (this.dayEnds && now >= this.dayEnds.at) this.dailyUsed = 0;
      this.dayEnds = { at: nextDailyReset(new Date(now), timeZone).getTime(), timeZone };
    }
    const headersFor = (burstUsed: number): Record<string, string> => ({
      "X-HubSpot-RateLimit-Daily": String(limits.daily),
      "X-HubSpot-RateLimit-Daily-Remaining": String(Math.max(0, limits.daily - this.dailyUsed)),
      "X-HubSpot-RateLimit-Interval-Milliseconds": String(limits.windowMs),
      "X-HubSpot-RateLimit-Max": String(limits.burst),
      "X-HubSpot-RateLimit-Remaining": String(Math.max(0, limits.burst - burstUsed)),
    });
    const burstUsed = this.burst.count(now, limits.windowMs);
    if (this.dailyUsed >= limits.daily) {
      return { policy: "DAILY", headers: rateClass === "search" ? {} : headersFor(burstUsed) };
    }
    if (rateClass === "search") {
      if (this.search.count(now, 1000) >= limits.search) return { policy: "SECONDLY", headers: {} };
      this.search.add(now);
      this.dailyUsed++;
      return { headers: {} };
    }
    if (rateClass === "general") {
      if (burstUsed >= limits.burst) return { policy: "TEN_SECONDLY_ROLLING", headers: headersFor(burstUsed) };
      this.burst.add(now);
      this.dailyUsed++;
      return { headers: headersFor(burstUsed + 1) };
    }
    if (rateClass === "associations") {
      // Their own rolling window; the general bucket's headers are what HubSpot's headers describe.
      if (this.associations.count(now, limits.windowMs) >= limits.associations) {
        return { policy: "TEN_SECONDLY_ROLLING", associations: true, headers: headersFor(burstUsed) };
      }
      this.associations.add(now);
    }
    // Ten-secondly-exempt endpoints still draw on the daily quota.
    this.dailyUsed++;
    return { headers: headersFor(burstUsed) };
  }
}

const MESSAGES = {
  TEN_SECONDLY_ROLLING: "You have reached your ten_secondly_rolling limit.",
  // The SDK's retry decorator recognises search 429s by exactly this message.
  SECONDLY: "You have reached your secondly limit.",
  DAILY: "You have reached your daily limit.",
} as const;

export function rateLimitBody(policy: keyof typeof MESSAGES, correlationId: string, portalId: number, associations = false) {
  const group =
    policy === "DAILY" ? "api-calls-daily" : policy === "SECONDLY" ? "search-api-calls-secondly" : associations ? "associations-api-calls-ten-secondly" : "api-calls-ten-secondly";
  return {
    status: "error",
    message: MESSAGES[policy],
    errorType: "RATE_LIMIT",
    correlationId,
    policyName: policy,
    groupName: `publicapi:private_app-${group}:${portalId}`,
    requestId: crypto.randomUUID(),
  };
}
