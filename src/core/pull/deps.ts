import type pg from "pg";
import type { Logger } from "pino";
import type { HubSpotApi } from "../hubspot/client.ts";

/** What discovery and the pull streams need; the worker context (src/core/worker/context.ts) has this shape. */
export interface SyncDeps {
  pool: pg.Pool;
  hubspot: HubSpotApi;
  log: Logger;
}
