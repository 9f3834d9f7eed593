import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { nextDailyReset } from "../src/core/hubspot/rate-budget.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { enableSync, startWorkerWithEnv } from "./support/worker.ts";
import { objectStatus } from "./support/status.ts";

/**
 * HubSpot's daily quota runs out mid-backfill: the worker stops calling, says why and until when
 * in hubsync.status, fails no job into graphile-worker's backoff, probes rarely, and carries on by
 * itself once HubSpot accepts calls again (here: the simulator's quota raised, as a reset would).
 */

let db: TestDatabase;
let sim: RunningSimulator;
let worker: Awaited<ReturnType<typeof startWorkerWithEnv>> | null = null;
const RECHECK_MS = 750;

beforeAll(async () => {
  db = await installedDatabase("quota_daily");
  sim = await startSimulator({ tier: "pro", rateLimits: { daily: 3 } });
  for (let i = 0; i < 450; i++) await sim.control.createRecord("contacts", { email: `q${i}@example.com`, firstname: `Q${i}` });
  worker = await startWorkerWithEnv(db.url, sim, { HUBSYNC_DAILY_RECHECK_MS: String(RECHECK_MS) });
});

afterAll(async () => {
  await worker?.stop();
  await sim?.close();
  await db?.drop();
});

const status = () => objectStatus(db.pool, "contacts");

describe("daily quota used up", () => {
  it("waits for the reset without failing jobs or busy-looping, says so in hubsync.status, and resumes by itself", async () => {
    await enableSync(db.pool, "contacts");
    const paused = await waitFor(
      "hubsync.status to report the daily limit",
      async () => {
        const s = await status();
        return s?.last_error?.includes("daily API limit") ? s : undefined;
      },
      { timeoutMs: 20_000, describe: async () => JSON.stringify(await status()) },
    );
    const reset = nextDailyReset(new Date(), "UTC");
    expect(paused.last_error).toContain(`HubSpot daily API limit reached; waiting until ${reset.toISOString().slice(0, 10)} 00:00 UTC`);
    expect(paused.last_error_at).toBeInstanceOf(Date);
    expect(paused.phase).toBe("backfilling");

    // While paused: one probe per recheck period at most, never a storm.
    const since = Date.now();
    await new Promise((r) => setTimeout(r, 4 * RECHECK_MS));
    const during = await sim.control.requests({ since });
    const seconds = (Date.now() - since) / 1000;
    expect(during.length).toBeLessThanOrEqual(Math.ceil((seconds * 1000) / RECHECK_MS) + 2);
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((r) => r.status === 429)).toBe(true);

    // No job failed into graphile-worker's exponential backoff.
    const failed = await db.pool.query(`select task_identifier, attempts, last_error from hubsync_worker.jobs where last_error is not null`);
    expect(failed.rows).toEqual([]);
    const rb = await db.pool.query(`select blocked_reason from hubsync.rate_budget where bucket = 'general'`);
    expect(rb.rows[0].blocked_reason).toBe("daily");

    // HubSpot's quota resets: the worker finishes the backfill on its own.
    await sim.control.configure({ rateLimits: { daily: 1_000_000 } });
    await waitFor(
      "contacts to go live after the reset",
      async () => {
        const s = await status();
        return s?.phase === "live" && !s.last_error ? s : undefined;
      },
      { timeoutMs: 30_000, describe: async () => JSON.stringify(await status()) },
    );
    const { rows } = await db.pool.query(`select count(*)::int as n from hubspot.contacts`);
    expect(rows[0].n).toBe(450);
    const after = await status();
    expect(after?.last_error ?? "").not.toContain("daily API limit");
    const cleared = await db.pool.query(`select blocked_reason, blocked_message from hubsync.rate_budget where bucket = 'general'`);
    expect(cleared.rows[0]).toEqual({ blocked_reason: null, blocked_message: null });
  }, 60_000);
});

describe("the reset time", () => {
  it("is midnight in the portal's time zone (HUBSYNC_DAILY_RESET_TZ), UTC by default", () => {
    const noon = new Date("2026-11-23T12:00:00Z");
    expect(nextDailyReset(noon, "UTC").toISOString()).toBe("2026-11-24T00:00:00.000Z");
    expect(nextDailyReset(noon, "America/New_York").toISOString()).toBe("2026-11-24T05:00:00.000Z");
    expect(nextDailyReset(new Date("2026-11-23T20:00:00Z"), "Asia/Kolkata").toISOString()).toBe("2026-11-24T18:30:00.000Z");
    // the night the clocks go forward in New York (8 March 2026): midnight is still 05:00 UTC
    expect(nextDailyReset(new Date("2026-03-07T12:00:00Z"), "America/New_York").toISOString()).toBe("2026-03-08T05:00:00.000Z");
    expect(nextDailyReset(new Date("2026-03-08T12:00:00Z"), "America/New_York").toISOString()).toBe("2026-03-09T04:00:00.000Z");
  });
});
