import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { startCli, type RunningCli } from "./support/cli.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { enableSync } from "./support/worker.ts";
import { SECRET } from "./support/webhooks.ts";

// An operator pages on every level-50 log line, so Ctrl-C on a command that stops cleanly must
// log none, and exit 0. (The demo, which also stops its own PostgreSQL, is test/demo.test.ts.)

let db: TestDatabase;
let sim: RunningSimulator;
beforeAll(async () => {
  db = await installedDatabase("clean_stop");
  sim = await startSimulator({ rateLimits: false, seed: { size: 300, seed: 4 } });
  await enableSync(db.pool, "contacts", ["email", "firstname"]);
  await enableSync(db.pool, "companies");
});
afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

const env = () => ({ DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url, HUBSYNC_LOG_LEVEL: "info" });

async function stopsQuietly(cli: RunningCli, ready: (output: string) => boolean, what: string): Promise<void> {
  try {
    await waitFor(what, async () => (ready(cli.output()) ? true : cli.child.exitCode !== null ? Promise.reject(new Error(cli.output())) : undefined), {
      timeoutMs: 60_000,
      intervalMs: 100,
      describe: () => cli.output().slice(-3000),
    });
  } catch (err) {
    cli.child.kill("SIGKILL");
    throw err;
  }
  cli.interrupt();
  const code = await Promise.race([cli.exited, new Promise((r) => setTimeout(() => r("still running 30 s after Ctrl-C"), 30_000))]);
  expect(code, cli.output().slice(-3000)).toBe(0);
  expect(cli.errorsSinceInterrupt()).toEqual([]);
}

describe("Ctrl-C", () => {
  it("stops `hubsync worker` while its jobs run, with no error logged", async () => {
    const worker = startCli(["worker"], env());
    // the backfills are under way: the listener and running jobs are what a careless stop breaks
    await stopsQuietly(worker, (out) => out.includes('"msg":"worker started"') && out.includes('"kind":"backfill"'), "the worker to be backfilling");
    expect(worker.output()).toContain('"msg":"worker stopped"');
  }, 120_000);

  it("stops `hubsync webhooks` with no error logged", async () => {
    const receiver = startCli(["webhooks", "--port", "0", "--host", "127.0.0.1"], { ...env(), HUBSPOT_WEBHOOK_SECRET: SECRET });
    await stopsQuietly(receiver, (out) => out.includes("hubsync webhooks: listening on"), "the receiver to listen");
  }, 90_000);

  it("stops `hubsync sync` between cycles with no error logged", async () => {
    const sync = startCli(["sync", "--interval", "60"], env());
    // between cycles: the association lines are printed together once the cycle's sweep is done
    await stopsQuietly(sync, (out) => /^companies\s+live/m.test(out) && /^contacts\s+live/m.test(out) && /^associations_\S+\s+\d+ changes/m.test(out), "the first cycle");
  }, 120_000);
});
