import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { archivedInterval, BASE_INTERVAL_MS, quotaStretch, sweepInterval, WEBHOOK_STRETCH, type DailyState } from "../src/core/daily-quota.ts";
import { PausedError } from "../src/core/hubspot/errors.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { pullIncremental } from "../src/core/pull/incremental.ts";
import { scheduledArchivedScans } from "../src/core/pull/archived.ts";
import { scheduledSweep } from "../src/core/associations/sweep.ts";
import { runPush } from "../src/core/push/run.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker } from "./support/worker.ts";

/**
 * HubSpot's daily quota is the account's: hubsync leaves HUBSYNC_DAILY_RESERVE to the portal's
 * other apps, and its background scans (archived records, association sweeps) stop earlier than
 * the pushes and incremental pulls, which may go on down to the reserve and no further.
 */
const DAY = 24 * 60 * 60_000;
const noon = new Date("2026-12-07T12:00:00Z");
const day = (over: Partial<DailyState> = {}): DailyState => ({
  limit: 250_000,
  remaining: 200_000,
  reserve: 25_000,
  backgroundFloor: 50_000,
  resetsAt: new Date(noon.getTime() + DAY / 2),
  ...over,
});

describe("the daily-quota policy", () => {
  it("stretches the archived scan with the recycle bin, and more while deletion webhooks arrive", () => {
    const small = archivedInterval({ day: day(), binPagesAll: 10, webhookDeletes: false, now: noon });
    const big = archivedInterval({ day: day(), binPagesAll: 1_000, webhookDeletes: false, now: noon });
    expect(small).toBe(BASE_INTERVAL_MS.archived);
    // 1,000 pages against a fifth of 250,000 calls: 50 scans a day, one every 28.8 minutes
    expect(big).toBe(Math.round(DAY / 50));
    expect(archivedInterval({ day: day(), binPagesAll: 1_000, webhookDeletes: true, now: noon })).toBe(big * WEBHOOK_STRETCH);
    // no daily limit known (OAuth apps have none): the crontab's own interval
    expect(archivedInterval({ day: null, binPagesAll: 1_000, webhookDeletes: false, now: noon })).toBe(BASE_INTERVAL_MS.archived);
  });

  it("slows sweeps as the day's quota is spent faster than the day passes", () => {
    // at noon half the background's allowance is left: on pace
    expect(quotaStretch(day({ remaining: 50_000 + 100_000 }), noon)).toBe(1);
    // a quarter left at noon: twice the interval; almost nothing left: at most 8 times
    expect(sweepInterval({ day: day({ remaining: 50_000 + 50_000 }), now: noon })).toBe(2 * BASE_INTERVAL_MS.sweep);
    expect(sweepInterval({ day: day({ remaining: 50_001 }), now: noon })).toBe(8 * BASE_INTERVAL_MS.sweep);
  });
});

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;
const LIMIT = 160;
const RESERVE = 100;
// the background floor: the reserve plus a tenth of the limit left to pushes and incremental pulls
const BACKGROUND_FLOOR = RESERVE + LIMIT / 10;
const LIFTED = { burst: 100_000, search: 100_000, associations: 100_000 };

beforeAll(async () => {
  db = await installedDatabase("quota_reserve");
  // the daily quota is what this test spends; the burst windows are lifted so the day goes by in seconds
  sim = await startSimulator({ tier: "free", rateLimits: { ...LIFTED, daily: 1_000_000 } });
  const contacts = sim.store.resolveType("contacts")!;
  for (let i = 0; i < 30; i++) sim.store.createRecord(contacts, { email: `r${i}@example.com`, firstname: `R${i}` });
  // a recycle bin of 3 pages: each archived scan costs 3 calls
  for (let i = 0; i < 250; i++) sim.store.archiveRecord(contacts, sim.store.createRecord(contacts, { email: `bin${i}@example.com` }).id);
  worker = connectWorker(db.url, sim, { limits: { generalLimit: 100_000, searchLimit: 10_000, dailyReserve: { calls: RESERVE } } });
  await db.pool.query(`select hubsync.enable_sync('contacts', array['email', 'firstname'], true)`);
  expect((await cycleAll(worker, ["contacts"], { archived: false })).filter((r) => r.error)).toEqual([]);
  // a new day with a small quota: nothing of the set-up counts
  await sim.control.resetRateLimits();
  await sim.control.resetCounters();
  await sim.control.configure({ rateLimits: { ...LIFTED, daily: LIMIT } });
  await db.pool.query(`update hubsync.rate_budget set daily_remaining = null, daily_resets_at = null where bucket = 'general'`);
});

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

/** Calls HubSpot (the simulator) counted today. */
async function used(): Promise<number> {
  const c = await sim.control.counters();
  return c.total - c.rateLimited;
}

describe("the reserve", () => {
  it("stops background scans first, lets pushes through, then stops everything at the reserve", async () => {
    // a first answer brings the day's figures
    await pullIncremental(worker, "contacts");

    // archived scans (queued by hand: they run now, not on the policy's timer) until the background floor stops them
    let scans = 0;
    let stoppedAt: PausedError | null = null;
    while (!stoppedAt && scans < 50) {
      try {
        await scheduledArchivedScans(worker, { fromCron: false });
        scans++;
      } catch (err) {
        if (!(err instanceof PausedError) || err.reason !== "daily") throw err;
        stoppedAt = err;
      }
    }
    expect(stoppedAt?.message).toMatch(/calls left of HubSpot's daily 160: background scans .* wait until the quota resets/);
    expect(scans).toBeGreaterThan(0);
    expect(await used()).toBeLessThanOrEqual(LIMIT - BACKGROUND_FLOOR);
    // from the crontab too, the scan and the sweep stay quiet without calling HubSpot
    const before = await used();
    expect(await scheduledArchivedScans(worker, { fromCron: true })).toEqual([]);
    expect(await scheduledSweep(worker, { fromCron: true })).toBeNull();
    expect(await used()).toBe(before);

    // a local edit still goes to HubSpot, past the background floor
    const { rows } = await db.pool.query<{ id: string }>(`select id from hubspot.contacts order by id limit 1`);
    await db.pool.query(`update hubspot.contacts set firstname = 'Pushed past the floor' where id = $1`, [rows[0]!.id]);
    const push = await runPush(worker, "contacts", { coalesceMs: 0 });
    expect(push.sent).toBeGreaterThan(0);
    expect(sim.store.getRecord(sim.store.resolveType("contacts")!, rows[0]!.id)?.properties.firstname).toBe("Pushed past the floor");

    // incremental pulls go on until only the reserve is left, and not one call further
    let pulls = 0;
    let reserveStop: PausedError | null = null;
    while (!reserveStop && pulls < 200) {
      try {
        await pullIncremental(worker, "contacts");
        pulls++;
      } catch (err) {
        if (!(err instanceof PausedError) || err.reason !== "daily") throw err;
        reserveStop = err;
      }
    }
    expect(reserveStop?.message).toMatch(/^Down to the day's reserve for the portal's other apps \(HUBSYNC_DAILY_RESERVE\); waiting until .* 00:00 UTC .*100 calls left of HubSpot's daily 160/);
    // hubsync counts its own calls between HubSpot's headers, erring on the side of the reserve
    const total = await used();
    expect(total).toBeLessThanOrEqual(LIMIT - RESERVE);
    expect(total).toBeGreaterThanOrEqual(LIMIT - RESERVE - 5);
    expect((await sim.control.requests({ since: 0 })).filter((r) => r.status === 429)).toEqual([]);
    expect((await sim.control.counters()).rateLimited).toBe(0);

    // hubsync.status says so, in the account's time zone
    const { rows: status } = await db.pool.query(
      `select daily_calls_used, daily_limit, daily_reserve, daily_quota_projection, last_error from hubsync.status where object_type = 'contacts'`,
    );
    expect(status[0]).toMatchObject({ daily_calls_used: String(LIMIT - RESERVE), daily_limit: String(LIMIT), daily_reserve: String(RESERVE) });
    expect(status[0].last_error).toMatch(/^Down to the day's reserve/);
    expect(status[0].daily_quota_projection).toMatch(/^60 of 160 calls used: down to the reserve of 100 left to the portal's other apps; hubsync waits for the reset at 00:00 UTC$/);
  }, 60_000);
});
