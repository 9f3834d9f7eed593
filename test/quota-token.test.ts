import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { objectStatus } from "./support/status.ts";
import { startWorkerWithEnv } from "./support/worker.ts";

/**
 * The access token stops working (expired, revoked, rotated) while the worker runs with local
 * changes waiting: one clear sentence in hubsync.status, one probe per pause instead of a retry
 * storm, the changes kept pending with their attempts intact, and everything flows again once
 * HubSpot accepts the token (the simulator's accepted token is changed back).
 */

let db: TestDatabase;
let sim: RunningSimulator;
let worker: Awaited<ReturnType<typeof startWorkerWithEnv>> | null = null;
const PAUSE_MS = 500;

beforeAll(async () => {
  db = await installedDatabase("quota_token");
  sim = await startSimulator({ rateLimits: false });
  for (let i = 0; i < 20; i++) await sim.control.createRecord("contacts", { email: `t${i}@example.com`, firstname: `T${i}` });
  worker = await startWorkerWithEnv(db.url, sim, { HUBSYNC_AUTH_PAUSE_MS: String(PAUSE_MS) });
});

afterAll(async () => {
  await worker?.stop();
  await sim?.close();
  await db?.drop();
});

const status = () => objectStatus(db.pool, "contacts");

describe("a refused access token (401)", () => {
  it("pauses everything with a clear message, keeps changes pending, probes rarely, and recovers when the token works again", async () => {
    await db.pool.query(`select hubsync.enable_sync('contacts', null, true)`);
    await waitFor("contacts live", async () => ((await status())?.phase === "live" ? true : undefined), { timeoutMs: 20_000 });
    // make sure write-back's own set-up (the hubsync_local_id property) is done with the good token
    await db.pool.query(`update hubspot.contacts set firstname = 'Warm-up' where email = 't0@example.com'`);
    await waitFor("warm-up sent", async () => ((await status())?.pending === 0 ? true : undefined), { timeoutMs: 20_000 });

    const goodToken = sim.token; // sim.token reads the simulator's current setting
    await sim.control.configure({ token: "rotated-elsewhere" });
    await db.pool.query(`insert into hubspot.contacts (email, firstname) values ('new@example.com', 'Created while refused')`);
    await db.pool.query(`update hubspot.contacts set firstname = 'Edited while refused' where email = 't1@example.com'`);
    await db.pool.query(`select hubsync_worker.add_job('hubsync_pull_all', '{}'::json)`);

    const refused = await waitFor(
      "hubsync.status to report the refused token",
      async () => {
        const s = await status();
        return s?.last_error?.includes("401") ? s : undefined;
      },
      { timeoutMs: 20_000, describe: async () => JSON.stringify(await status()) },
    );
    expect(refused.last_error).toContain("HubSpot rejected the access token (401) — check HUBSPOT_ACCESS_TOKEN");

    // While the token is refused: one probe per pause, not a retry per job and row.
    const since = Date.now();
    await new Promise((r) => setTimeout(r, 4 * PAUSE_MS));
    const during = await sim.control.requests({ since });
    const seconds = (Date.now() - since) / 1000;
    const perMinute = (during.length / seconds) * 60;
    expect(during.length).toBeLessThanOrEqual(Math.ceil((seconds * 1000) / PAUSE_MS) + 2);
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((r) => r.status === 401)).toBe(true);
    console.log(`requests while the token was refused: ${during.length} in ${seconds.toFixed(1)} s (${perMinute.toFixed(0)}/min at a ${PAUSE_MS} ms pause; 1/min at the default 60 s)`);

    // Nothing lost, nothing marked rejected, no attempt burnt. A probe claims the rows for the
    // moment of its one refused request (in flight, then back to pending with the attempt
    // returned), so the rows are read between probes.
    const outbox = await waitFor(
      "the waiting changes to be pending between probes",
      async () => {
        const r = await db.pool.query(`select op, status, attempts, error_category from hubsync.outbox where status <> 'sent' order by id`);
        return r.rows.every((row) => row.status !== "in_flight") ? r : undefined;
      },
      { timeoutMs: 10_000 },
    );
    expect(outbox.rows.length).toBe(2);
    for (const r of outbox.rows) {
      expect(r.status).toBe("pending");
      expect(r.attempts).toBe(0);
    }
    expect((await status())?.rejected).toBe(0);
    const failed = await db.pool.query(`select task_identifier, last_error from hubsync_worker.jobs where last_error is not null`);
    expect(failed.rows).toEqual([]);

    // The token works again: the pause ends by itself and the waiting changes arrive.
    await sim.control.configure({ token: goodToken });
    await waitFor(
      "the outbox to drain after the token is fixed",
      async () => {
        const s = await status();
        return s?.pending === 0 && !s.last_error ? s : undefined;
      },
      { timeoutMs: 30_000, describe: async () => JSON.stringify(await status()) },
    );
    const contacts = await sim.control.listRecords("contacts");
    expect(contacts.some((c) => c.properties.email === "new@example.com" && c.properties.firstname === "Created while refused")).toBe(true);
    expect(contacts.some((c) => c.properties.email === "t1@example.com" && c.properties.firstname === "Edited while refused")).toBe(true);
    const sent = await db.pool.query(`select count(*)::int as n from hubsync.outbox where status = 'sent' and attempts = 1`);
    expect(sent.rows[0].n).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
