import { afterAll, beforeAll, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { httpOptions, readEnv } from "../src/core/config.ts";
import { createPool } from "../src/core/db/pool.ts";
import { createHubSpotApi } from "../src/core/hubspot/client.ts";
import { installedDatabase } from "./support/database.ts";
import { quietLog } from "./support/worker.ts";
import type { TestDatabase } from "./support/database.ts";

// hubsync starts from HubSpot's smallest burst limit (100 per 10 s), learns the portal's real one
// from X-HubSpot-RateLimit-Max (and its window from X-HubSpot-RateLimit-Interval-Milliseconds)
// on the first answer, and allows itself HUBSYNC_RATE_HEADROOM of it. Here the portal allows 20
// per 2 s and the headroom is one half: a client asked for 19 calls at once after its first sends
// at most 10 in any 2 seconds (so it waits for a second window) and never meets a 429.

let db: TestDatabase;
let sim: RunningSimulator;
const MAX = 20;
const WINDOW_MS = 2_000;

beforeAll(async () => {
  db = await installedDatabase("rate_learned");
  sim = await startSimulator({ rateLimits: { burst: MAX, windowMs: WINDOW_MS, search: 5, daily: 1_000_000 } });
});

afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

/** The most calls inside any `windowMs`. */
function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

it("keeps to HUBSYNC_RATE_HEADROOM of the limit learned from X-HubSpot-RateLimit-Max", async () => {
  const saved = process.env.HUBSYNC_RATE_HEADROOM;
  process.env.HUBSYNC_RATE_HEADROOM = "0.5";
  // built as `hubsync worker` builds its client: options from the environment, the budget in Postgres
  const pool = createPool(db.url, { max: 4 });
  const api = createHubSpotApi({ accessToken: sim.token, basePath: sim.url, pool, log: quietLog, ...httpOptions(readEnv()) });
  if (saved === undefined) delete process.env.HUBSYNC_RATE_HEADROOM;
  else process.env.HUBSYNC_RATE_HEADROOM = saved;
  const owners = () => api.ownersPage({});
  try {
    await owners(); // the first answer carries the headers
    await Promise.all(Array.from({ length: 19 }, owners));
  } finally {
    api.close();
    await pool.end();
  }

  const sent = await sim.control.requests();
  expect(sent.filter((r) => r.path.startsWith(api.paths.owners.list()))).toHaveLength(20);
  expect((await sim.control.counters()).rateLimited).toBe(0);
  // 19 would mean the headroom was not applied; 20 (with 429s) that the limit was not learned
  expect(busiestWindow(sent.map((r) => r.at), WINDOW_MS)).toBeLessThanOrEqual(MAX / 2);

  // what every process on this database now shares
  const { rows } = await db.pool.query(`select capacity, window_ms from hubsync.rate_budget where bucket = 'general'`);
  expect(rows).toEqual([{ capacity: MAX / 2, window_ms: WINDOW_MS + 100 }]);
}, 60_000);
