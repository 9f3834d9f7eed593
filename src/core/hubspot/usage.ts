import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Requests made on behalf of one unit of work (a pull run, a push batch), wherever in the call
 * tree they happen, so hubsync.runs can say what each run cost without threading counters through
 * every function.
 */
export interface Usage {
  requests: number;
  rateLimited: number;
  retries: number;
}

const store = new AsyncLocalStorage<Usage[]>();

export function newUsage(): Usage {
  return { requests: 0, rateLimited: 0, retries: 0 };
}

/** Runs fn with usage counting every HubSpot request it makes (nested trackers all count). */
export function trackUsage<T>(usage: Usage, fn: () => Promise<T>): Promise<T> {
  const outer = store.getStore() ?? [];
  return store.run([...outer, usage], fn);
}

export function recordUsage(field: keyof Usage, n = 1): void {
  for (const u of store.getStore() ?? []) u[field] += n;
}
