import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPgRateBudget } from "../src/core/hubspot/rate-budget.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await installedDatabase("budget");
});
afterAll(async () => {
  await db?.drop();
});

describe("rate budget in Postgres", () => {
  it("never grants more than the capacity inside one window, across several budgets (processes)", async () => {
    // 10 per 1 s at 100% headroom, shared by three independent budget objects.
    const budgets = [0, 1, 2].map(() =>
      createPgRateBudget(db.pool, { generalLimit: 10, generalWindowMs: 1000, headroom: 1, searchLimit: 5, searchWindowMs: 1000 }),
    );
    // When each slot was granted, by the database's clock: the time this process saw the answer
    // comes later by however long a busy machine takes to deliver it, which says nothing of the budget.
    const grants: number[] = [];
    await Promise.all(
      budgets.flatMap((b) =>
        Array.from({ length: 10 }, async () => {
          const slot = (await b.reserve("general")) as { at: string };
          grants.push(new Date(slot.at).getTime());
        }),
      ),
    );
    grants.sort((a, b) => a - b);
    expect(grants).toHaveLength(30);
    // Any 1-second window holds at most 10 grants.
    for (let i = 10; i < grants.length; i++) expect(grants[i]! - grants[i - 10]!).toBeGreaterThanOrEqual(990);
    const { rows } = await db.pool.query(`select requests from hubsync.rate_budget where bucket = 'general'`);
    expect(Number(rows[0].requests)).toBe(30);
  });

  it("a block from one process holds every process back", async () => {
    const a = createPgRateBudget(db.pool, { searchLimit: 5, headroom: 1 });
    const b = createPgRateBudget(db.pool, { searchLimit: 5, headroom: 1 });
    await a.block("search", 600, "secondly");
    const t = Date.now();
    await b.reserve("search");
    expect(Date.now() - t).toBeGreaterThanOrEqual(550);
    const { rows } = await db.pool.query(`select rate_limited from hubsync.rate_budget where bucket = 'search'`);
    expect(Number(rows[0].rate_limited)).toBe(1);
  });

  it("holds association calls to a window of their own (HUBSYNC_ASSOCIATIONS_LIMIT=own), not the general one", async () => {
    const a = createPgRateBudget(db.pool, { generalLimit: 1000, associationsLimit: 10, generalWindowMs: 1_000, headroom: 1 });
    await db.pool.query(`update hubsync.rate_budget set requests = 0`);
    const started = Date.now();
    await Promise.all(Array.from({ length: 25 }, () => a.reserve("associations")));
    // 25 calls at 10 per window: the third ten waits for two windows to pass
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    const { rows } = await db.pool.query(`select bucket, requests::int from hubsync.rate_budget where bucket in ('associations', 'general') order by bucket`);
    expect(rows).toEqual([
      { bucket: "associations", requests: 25 },
      { bucket: "general", requests: 0 },
    ]);
  });

  it("counts association calls without a window when HUBSYNC_ASSOCIATIONS_LIMIT=none", async () => {
    // A two-minute window: held to it, the eleventh call alone would wait two minutes, far longer
    // than 200 reservations take on any machine (no speed is measured here).
    const windowMs = 120_000;
    const a = createPgRateBudget(db.pool, { associationsMode: "none", associationsLimit: 10, generalWindowMs: windowMs, headroom: 1 });
    await db.pool.query(`update hubsync.rate_budget set requests = 0`);
    const started = Date.now();
    await Promise.all(Array.from({ length: 200 }, () => a.reserve("associations")));
    expect(Date.now() - started).toBeLessThan(windowMs);
    const { rows } = await db.pool.query(`select requests::int from hubsync.rate_budget where bucket = 'associations'`);
    expect(rows[0].requests).toBe(200);
  }, 180_000);

  it("records the daily quota from headers and stops at the configured reserve", async () => {
    const a = createPgRateBudget(db.pool, { dailyReserve: { calls: 1000 } });
    await a.observe({ "x-hubspot-ratelimit-daily": "250000", "x-hubspot-ratelimit-daily-remaining": "999" });
    const { rows } = await db.pool.query(`select daily_limit, daily_remaining, daily_reserve from hubsync.rate_budget where bucket = 'general'`);
    expect(rows[0]).toMatchObject({ daily_limit: "250000", daily_remaining: "999", daily_reserve: "1000" });
    await expect(a.reserve("general")).rejects.toThrow(/daily/i);
    await expect(a.reserve("search")).rejects.toThrow(/daily/i);
    await expect(a.reserve("associations")).rejects.toThrow(/daily/i);
  });

  it("writes every header near a floor, so calls it never saw reserved still count there; far from one, one write a second", async () => {
    const dailyRemaining = async () => Number((await db.pool.query(`select daily_remaining from hubsync.rate_budget where bucket = 'general'`)).rows[0].daily_remaining);
    const header = (limit: number, left: number) => ({ "x-hubspot-ratelimit-daily": String(limit), "x-hubspot-ratelimit-daily-remaining": String(left) });
    // a new day, without the pause the test before this one ended in
    await db.pool.query(`select hubsync.rate_resume()`);
    await db.pool.query(`update hubsync.rate_budget set daily_remaining = null, daily_resets_at = null where bucket = 'general'`);
    // far from the floors (250,000 a day, background floor 26,000): a second header within the second waits
    const far = createPgRateBudget(db.pool, { dailyReserve: { calls: 1000 } });
    await far.observe(header(250_000, 200_000));
    await far.observe(header(250_000, 199_990));
    expect(await dailyRemaining()).toBe(200_000);
    // 160 a day, reserve 100, background floor 116: at 130 left, within a tenth of the limit of it.
    // Two calls answered at once, the first before the day's figures were known: the second's
    // header is the only news of it, and it is written at once.
    const near = createPgRateBudget(db.pool, { dailyReserve: { calls: 100 } });
    await near.observe(header(160, 131));
    await near.observe(header(160, 130));
    expect(await dailyRemaining()).toBe(130);
    await near.observe(header(160, 117));
    expect(await dailyRemaining()).toBe(117);
    // and the next call reserved counts down from there
    await near.reserve("general");
    expect(await dailyRemaining()).toBe(116);
  });
});
