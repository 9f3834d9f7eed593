/**
 * Token buckets per client address: `burst` requests at once, refilled at `perSecond`. HubSpot
 * keeps at most 10 requests in flight and retries a 429 after Retry-After, so a generous bucket
 * never loses events; it stops a flood from reaching the database.
 */
export interface RateLimiter {
  /** null when allowed; else the seconds to wait before a token is free (for Retry-After). */
  take(key: string, now?: number): number | null;
}

/** Buckets idle this long are full again anyway: forgetting them bounds memory under many addresses. */
const IDLE_MS = 60_000;

export function createRateLimiter(opts: { perSecond: number; burst: number }): RateLimiter {
  if (opts.perSecond <= 0) return { take: () => null };
  const buckets = new Map<string, { tokens: number; at: number }>();
  let sweptAt = 0;
  return {
    take(key, now = Date.now()) {
      if (now - sweptAt > IDLE_MS) {
        for (const [k, b] of buckets) if (now - b.at > IDLE_MS) buckets.delete(k);
        sweptAt = now;
      }
      const b = buckets.get(key) ?? { tokens: opts.burst, at: now };
      b.tokens = Math.min(opts.burst, b.tokens + ((now - b.at) / 1000) * opts.perSecond);
      b.at = now;
      buckets.set(key, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return null;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / opts.perSecond));
    },
  };
}
