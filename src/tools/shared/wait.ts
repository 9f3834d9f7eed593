const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls until check() returns a value (not undefined), or fails with what `describe` says about the
 * last state. The bench and the demo wait on hubsync's SQL surface, never on internals.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  opts: {
    timeoutMs: number;
    intervalMs?: number;
    describe?: () => Promise<string> | string;
    /** Says why waiting on is pointless (a worker process that died), or null: the wait then fails at once. */
    failIf?: () => string | null;
  },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const reason = opts.failIf?.();
    if (reason) throw new Error(`gave up waiting for ${what}: ${reason}`);
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      const detail = opts.describe ? await opts.describe() : "";
      throw new Error(`timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for ${what}${detail ? `: ${detail}` : ""}`);
    }
    await sleep(opts.intervalMs ?? 250);
  }
}

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

/** Runs fn over items with at most `limit` in flight. */
export async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}
