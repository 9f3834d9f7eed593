import { afterAll, beforeAll, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { enableSync } from "./support/worker.ts";
import { installedDatabase } from "./support/database.ts";
import { runCli } from "./support/cli.ts";
import type { TestDatabase } from "./support/database.ts";

// `hubsync sync --once` is what a cron job or a CI step runs: its exit status must say whether
// every object synced, so a failure is noticed without reading the output.

let db: TestDatabase;
let sim: RunningSimulator;

beforeAll(async () => {
  db = await installedDatabase("sync_once_exit");
  sim = await startSimulator({ rateLimits: false });
  for (let i = 0; i < 5; i++) await sim.control.createRecord("contacts", { email: `once${i}@example.com` });
  await enableSync(db.pool, "contacts", ["email"]);
});

afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

const env = () => ({ DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url, HUBSYNC_LOG_LEVEL: "silent" });

it("exits 0 when every object synced, and non-zero naming the object when one failed", async () => {
  const fine = await runCli(["sync", "--once"], env(), 60_000);
  expect(fine.code, fine.stdout + fine.stderr).toBe(0);
  expect(fine.stdout).toMatch(/contacts\s+live/);

  // a custom object enabled by name that this portal does not have: its discovery fails
  await enableSync(db.pool, "pets");
  const failed = await runCli(["sync", "--once"], env(), 60_000);
  expect(failed.code, failed.stdout + failed.stderr).toBe(1);
  expect(failed.stdout).toMatch(/pets\s+ERROR /);
  expect(failed.stdout).toMatch(/contacts\s+live/); // the others still synced

  // naming only the healthy object succeeds again
  const only = await runCli(["sync", "--once", "contacts"], env(), 60_000);
  expect(only.code, only.stdout + only.stderr).toBe(0);
}, 150_000);
