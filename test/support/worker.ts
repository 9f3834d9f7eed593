import type pg from "pg";
import { createPool } from "../../src/core/db/pool.ts";
import { createHubSpotApi, type HubSpotApi, type HubSpotApiOptions } from "../../src/core/hubspot/client.ts";
import { createLogger } from "../../src/core/log.ts";
import { startWorker, type RunningWorker } from "../../src/core/worker/runner.ts";
import type { SyncContext } from "../../src/core/context.ts";
import type { SearchPage } from "../../src/core/hubspot/schemas.ts";

/** The logger handed to code under test; HUBSYNC_TEST_LOG=debug shows what it says. */
export const quietLog = createLogger({ level: process.env.HUBSYNC_TEST_LOG ?? "silent" });

/**
 * For simulators started with `rateLimits: false`: the budget must not be what a test waits on.
 * Association calls have a window of their own (100 per 10 s unless raised here), which a sweep
 * over a few types fills in a second and then waits out.
 */
export const UNLIMITED = { generalLimit: 100_000, searchLimit: 10_000, associationsLimit: 100_000 };

/**
 * A HubSpot client plus its own pool on the test database: one "worker process". Its budget is
 * UNLIMITED unless the test passes `limits` (e.g. `{}` for HubSpot's real ones).
 */
export function connectWorker(dbUrl: string, sim: { url: string; token: string }, opts: Partial<HubSpotApiOptions> = {}): SyncContext & { close(): Promise<void> } {
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
export function aroundSearch(deps: SyncContext, around: (n: number, search: () => Promise<SearchPage>) => Promise<SearchPage>): SyncContext {
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

/**
 * The in-process worker with extra environment (pause lengths and the like), read by the task
 * context when it is built; stop() stops it and restores the environment.
 */
export async function startWorkerWithEnv(
  dbUrl: string,
  sim: { url: string; token: string },
  env: Record<string, string>,
): Promise<{ worker: RunningWorker; stop(): Promise<void> }> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const worker = await startTestWorker(dbUrl, sim);
  return {
    worker,
    async stop() {
      await worker.stop();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    },
  };
}
