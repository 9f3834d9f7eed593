import type pg from "pg";
import { install } from "../src/core/db/install.ts";
import { createPool } from "../src/core/db/pool.ts";
import { createHubSpotApi, type HubSpotApi, type HubSpotApiOptions } from "../src/core/hubspot/client.ts";
import { createLogger } from "../src/core/log.ts";
import { startWorker, type RunningWorker } from "../src/core/worker/runner.ts";
import type { SyncDeps } from "../src/core/pull/deps.ts";
import type { SearchPage } from "../src/core/hubspot/schemas.ts";
import { freshDatabase, type TestDatabase } from "./support/database.ts";

/** A new database with hubsync installed by `hubsync install`'s code. */
export async function installedDatabase(label: string): Promise<TestDatabase> {
  const db = await freshDatabase(label);
  await install({ databaseUrl: db.url, log: quietLog });
  return db;
}

export const quietLog = createLogger({ level: process.env.HUBSYNC_TEST_LOG ?? "silent" });

/** For simulators started with `rateLimits: false`: the budget must not be what a test waits on. */
export const UNLIMITED = { generalLimit: 100_000, searchLimit: 10_000 };

/**
 * A HubSpot client plus its own pool on the test database: one "worker process". Its budget is
 * UNLIMITED unless the test passes `limits` (e.g. `{}` for HubSpot's real ones).
 */
export function connectWorker(dbUrl: string, sim: { url: string; token: string }, opts: Partial<HubSpotApiOptions> = {}): SyncDeps & { close(): Promise<void> } {
  const pool = createPool(dbUrl, { max: 4, applicationName: "hubsync test" });
  const hubspot: HubSpotApi = createHubSpotApi({ accessToken: sim.token, basePath: sim.url, pool, log: quietLog, limits: UNLIMITED, ...opts });
  return {
    pool,
    hubspot,
    log: quietLog,
    async close() {
      hubspot.close();
      await pool.end();
    },
  };
}

/**
 * The worker's deps with its search wrapped: `around(n, search)` runs for the n-th search of the
 * run (from 1) and returns the page, so a test can act between pages or make one fail.
 */
export function aroundSearch(deps: SyncDeps, around: (n: number, search: () => Promise<SearchPage>) => Promise<SearchPage>): SyncDeps {
  let n = 0;
  return { ...deps, hubspot: { ...deps.hubspot, search: (...args) => around(++n, () => deps.hubspot.search(...args)) } };
}

/** hubsync.enable_sync, as a DBA would call it. */
export async function enableSync(pool: pg.Pool, objectType: string, properties: string[] | null = null): Promise<void> {
  await pool.query(`select hubsync.enable_sync($1, $2::text[])`, [objectType, properties]);
}

/** Requests in a simulator request log whose path contains `part` (and method, when given). */
export function countRequests(log: Array<{ method: string; path: string }>, part: string, method?: string): number {
  return log.filter((r) => r.path.includes(part) && (!method || r.method === method)).length;
}

/**
 * The real worker, in process, against a test database and simulator. Task files are loaded by
 * graphile-worker through Node's own import(), outside vitest's module graph, so their context is
 * built from the environment as in a real `hubsync worker`: the environment is set first.
 */
export async function startTestWorker(dbUrl: string, sim: { url: string; token: string }): Promise<RunningWorker> {
  process.env.DATABASE_URL = dbUrl;
  process.env.HUBSPOT_ACCESS_TOKEN = sim.token;
  process.env.HUBSPOT_BASE_URL = sim.url;
  return startWorker({ databaseUrl: dbUrl, concurrency: 3, handleSignals: false, log: quietLog });
}
