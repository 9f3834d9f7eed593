import type pg from "pg";
import type { HubSpotApi } from "./hubspot/client.ts";
import type { Logger } from "./log.ts";

/**
 * What every task and every step of a sync (discovery, pull, associations, push, webhook apply)
 * is handed: the pg pool, the HubSpot client (one keep-alive agent and one view of the rate
 * budget) and the logger. The worker builds one per process (worker/context.ts); `hubsync sync`
 * and `hubsync push` build their own.
 */
export interface SyncContext {
  pool: pg.Pool;
  hubspot: HubSpotApi;
  log: Logger;
  /**
   * The worker process's id (graphile-worker's pool id, whose liveness lock the process holds),
   * kept on each run it starts so a run whose worker died can be closed as 'abandoned'. Absent
   * outside a worker.
   */
  readonly workerId?: string | null;
  /**
   * The time the scheduled scans go by (when each last ran, when it is due again). The real clock
   * unless a day is being simulated (src/tools/day).
   */
  clock?: () => Date;
}

/** The context's clock, or the real one. */
export function nowOf(deps: Pick<SyncContext, "clock">): Date {
  return deps.clock ? deps.clock() : new Date();
}
