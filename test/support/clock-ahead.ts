import { fileURLToPath } from "node:url";

/**
 * A clock running ahead in a child process (`hubsync worker`), so that graphile-worker's cron, which
 * fires on the minute by the process's own clock, fires a few seconds after the worker starts instead
 * of at the wall clock's next minute (half a minute's wait on average, a whole one at worst).
 * Loaded with `node --import` before anything else (clockAheadEnv): the clock reads
 * HUBSYNC_TEST_CLOCK_LEAD_MS before a whole minute as this module loads, and every Date the process
 * makes, Date.now() included, keeps that lead over the real time (less than a minute). PostgreSQL's
 * now(), which decides when a job may run, stays the real time.
 */
const lead = Number(process.env.HUBSYNC_TEST_CLOCK_LEAD_MS ?? 0);
if (lead > 0) {
  const Real = Date;
  const now = Real.now();
  // the next whole minute at least `lead` away, less `lead`
  const ahead = Math.ceil((now + lead) / 60_000) * 60_000 - lead - now;
  class Ahead extends Real {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(Real.now() + ahead);
      else super(...(args as [string | number | Date]));
    }
    static override now(): number {
      return Real.now() + ahead;
    }
  }
  // Date() called without `new` gives the time as a string
  globalThis.Date = new Proxy(Ahead, { apply: () => new Ahead().toString() }) as DateConstructor;
}

/**
 * The environment of a child whose clock reads `leadMs` before a whole minute as it starts: its cron
 * fires about leadMs later, or a minute after that if starting its cron took longer. (The worker
 * starts again in place with its heap limit: the clock is set by that second start.)
 */
export function clockAheadEnv(leadMs: number): Record<string, string> {
  return {
    HUBSYNC_TEST_CLOCK_LEAD_MS: String(leadMs),
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${fileURLToPath(import.meta.url)}`.trim(),
  };
}
