import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { installedDatabase } from "./support/database.ts";
import type { TestDatabase } from "./support/database.ts";
import { objectStatus } from "./support/status.ts";
import { startWorkerWithEnv } from "./support/worker.ts";

/**
 * HubSpot answers 477 "Migration in progress" (Retry-After up to hours) while the worker runs with
 * local changes waiting: a portal-wide pause whose reason hubsync.status shows, with no job sleeping
 * in a worker slot or failing into graphile-worker's backoff, one probe when Retry-After is over,
 * and everything flows again once the migration is done.
 */

let db: TestDatabase;
let sim: RunningSimulator;
let worker: Awaited<ReturnType<typeof startWorkerWithEnv>> | null = null;
const RETRY_AFTER_S = 1;

beforeAll(async () => {
  db = await installedDatabase("quota_migration");
  sim = await startSimulator({ rateLimits: false });
  for (let i = 0; i < 20; i++) await sim.control.createRecord("contacts", { email: `m${i}@example.com`, firstname: `M${i}` });
  worker = await startWorkerWithEnv(db.url, sim, {});
});

afterAll(async () => {
  await worker?.stop();
  await sim?.close();
  await db?.drop();
});

const status = () => objectStatus(db.pool, "contacts");

describe("an account being migrated (477)", () => {
  it("pauses the whole portal for Retry-After with the reason in hubsync.status, keeps changes pending, and carries on after", async () => {
    await db.pool.query(`select hubsync.enable_sync('contacts', null, true)`);
    await waitFor("contacts live", async () => ((await status())?.phase === "live" ? true : undefined), { timeoutMs: 20_000 });
    await db.pool.query(`update hubspot.contacts set firstname = 'Warm-up' where email = 'm0@example.com'`);
    await waitFor("warm-up sent", async () => ((await status())?.pending === 0 ? true : undefined), { timeoutMs: 20_000 });

    await sim.control.configure({ migrationRetryAfterSeconds: RETRY_AFTER_S });
    await db.pool.query(`update hubspot.contacts set firstname = 'Edited while migrating' where email = 'm1@example.com'`);
    await db.pool.query(`select hubsync_worker.add_job('hubsync_pull_all', '{}'::json)`);
    const paused = await waitFor(
      "hubsync.status to report the migration",
      async () => {
        const s = await status();
        return s?.last_error?.includes("477") ? s : undefined;
      },
      { timeoutMs: 20_000, describe: async () => JSON.stringify(await status()) },
    );
    expect(paused.last_error).toMatch(/^HubSpot is migrating this account \(477 Migration in progress\); hubsync waits until \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC as HubSpot asked$/);
    const pause = await db.pool.query(`select blocked_reason, blocked_until > now() as ahead from hubsync.rate_budget where bucket = 'general'`);
    expect(pause.rows[0]).toEqual({ blocked_reason: "migration", ahead: true });

    // While migrating: a probe per Retry-After, not a retry per job.
    const since = Date.now();
    await new Promise((r) => setTimeout(r, 3_500 * RETRY_AFTER_S));
    const during = await sim.control.requests({ since });
    const seconds = (Date.now() - since) / 1000;
    expect(during.length).toBeLessThanOrEqual(Math.ceil(seconds / RETRY_AFTER_S) + 2);
    expect(during.every((r) => r.status === 477)).toBe(true);
    const failed = await db.pool.query(`select task_identifier, last_error from hubsync_worker.jobs where last_error is not null`);
    expect(failed.rows).toEqual([]);
    // A probe claims the waiting change for the moment of its one refused request (in flight, then
    // back to pending with the attempt returned), so the row is read between probes.
    const waiting = await waitFor(
      "the waiting change to be pending between probes",
      async () => {
        const r = await db.pool.query(`select status, attempts from hubsync.outbox where status <> 'sent'`);
        return r.rows.every((row) => row.status !== "in_flight") ? r.rows : undefined;
      },
      { timeoutMs: 10_000 },
    );
    expect(waiting).toEqual([{ status: "pending", attempts: 0 }]);

    await sim.control.configure({ migrationRetryAfterSeconds: null });
    await waitFor(
      "the outbox to drain after the migration",
      async () => {
        const s = await status();
        return s?.pending === 0 && !s.last_error ? s : undefined;
      },
      { timeoutMs: 30_000, describe: async () => JSON.stringify(await status()) },
    );
    const m1 = (await sim.control.listRecords("contacts")).find((c) => c.properties.email === "m1@example.com");
    expect(m1?.properties.firstname).toBe("Edited while migrating");
  }, 60_000);
});
