import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { DailyLimitError } from "../src/core/hubspot/errors.ts";
import { backfill } from "../src/core/pull/backfill.ts";
import { discover } from "../src/core/schema/discover.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker, enableSync } from "./support/worker.ts";

let db: TestDatabase;

beforeAll(async () => {
  db = await installedDatabase("hs_client");
});
afterAll(async () => {
  await db?.drop();
});

describe("two worker processes on one portal", () => {
  it("share the rate budget through Postgres: no 429 at HubSpot's real 10-second and per-second limits", async () => {
    const sim = await startSimulator({ tier: "free" });
    const a = connectWorker(db.url, sim, { limits: {} });
    const b = connectWorker(db.url, sim, { limits: {} });
    try {
      for (let i = 0; i < 20; i++) await sim.control.createRecord("contacts", { email: `x${i}@example.com` });
      await sim.control.resetCounters();
      const started = Date.now();
      const work = (w: typeof a) => [
        ...Array.from({ length: 75 }, () => w.hubspot.listPage("contacts", { limit: 10 })),
        ...Array.from({ length: 12 }, () =>
          w.hubspot.search("contacts", { filterGroups: [{ filters: [{ propertyName: "lastmodifieddate", operator: "GTE", value: "0" }] }], limit: 5 }),
        ),
      ];
      await Promise.all([...work(a), ...work(b)]);
      const ms = Date.now() - started;
      const counters = await sim.control.counters();
      expect(counters.rateLimited ?? counters.byStatus?.["429"] ?? 0).toBe(0);
      expect(a.hubspot.stats.rateLimited + b.hubspot.stats.rateLimited).toBe(0);
      // 150 general requests at 90 per 10 s cannot finish inside one window
      expect(ms).toBeGreaterThan(9_000);
      const { rows } = await db.pool.query(
        `select bucket, requests::int, rate_limited::int from hubsync.rate_budget where bucket in ('general', 'search') order by bucket`,
      );
      expect(rows).toEqual([
        { bucket: "general", requests: 150, rate_limited: 0 },
        { bucket: "search", requests: 24, rate_limited: 0 },
      ]);
    } finally {
      await a.close();
      await b.close();
      await sim.close();
    }
  });
});

describe("failures", () => {
  it("retries 5xx, timeouts and dropped connections and still copies everything", async () => {
    const sim = await startSimulator({ rateLimits: false });
    const w = connectWorker(db.url, sim, { timeoutMs: 400, backoffBaseMs: 20, backoffCapMs: 200, maxAttempts: 10 });
    try {
      for (let i = 0; i < 300; i++) await sim.control.createRecord("companies", { name: `Co ${i}` });
      await enableSync(db.pool, "companies");
      await discover(w, "companies");
      // seeded dice: the same faults on every run (unseeded, a short run can meet none at all)
      await sim.control.configure({ faults: { serverErrorRate: 0.2, timeoutRate: 0.05, dropRate: 0.05, seed: 7 } });
      const run = await backfill(w, "companies", { pageSize: 20 });
      await sim.control.configure({ faults: { serverErrorRate: 0, timeoutRate: 0, dropRate: 0 } });
      expect(run.records).toBe(300);
      expect(w.hubspot.stats.retries).toBeGreaterThan(0);
      const { rows } = await db.pool.query(`select count(*)::int as n from hubspot.companies`);
      expect(rows[0].n).toBe(300);
    } finally {
      await w.close();
      await sim.close();
    }
  });

  it("waits out a 429 on HubSpot's terms and counts it", async () => {
    // 4 a second at HubSpot: of the 8 searches sent at once, half meet a 429
    const sim = await startSimulator({ rateLimits: { search: 4 } });
    // this client believes search allows 20/s: the simulator says otherwise
    const w = connectWorker(db.url, sim, { limits: { searchLimit: 20, headroom: 1 } });
    try {
      const body = { filterGroups: [{ filters: [{ propertyName: "hs_lastmodifieddate", operator: "GTE", value: "0" }] }], limit: 1 };
      const results = await Promise.all(Array.from({ length: 8 }, () => w.hubspot.search("companies", body)));
      expect(results).toHaveLength(8);
      expect(w.hubspot.stats.rateLimited).toBeGreaterThan(0);
      const { rows } = await db.pool.query(`select rate_limited::int from hubsync.rate_budget where bucket = 'search'`);
      expect(rows[0].rate_limited).toBeGreaterThan(0);
    } finally {
      await w.close();
      await sim.close();
      await db.pool.query(`update hubsync.rate_budget set blocked_until = null, blocked_reason = null`);
    }
  });

  it("stops at the daily limit and says so", async () => {
    const sim = await startSimulator({ rateLimits: { daily: 5 } });
    const w = connectWorker(db.url, sim, { limits: {} });
    try {
      let error: unknown;
      for (let i = 0; i < 10 && !error; i++) await w.hubspot.listPage("contacts", { limit: 1 }).catch((e: unknown) => (error = e));
      expect(error).toBeInstanceOf(DailyLimitError);
      const { rows } = await db.pool.query(`select blocked_reason, daily_limit::int from hubsync.rate_budget where bucket = 'general'`);
      expect(rows[0]).toMatchObject({ blocked_reason: "daily" });
      await expect(w.hubspot.listPage("contacts", { limit: 1 })).rejects.toBeInstanceOf(DailyLimitError);
    } finally {
      await w.close();
      await sim.close();
      await db.pool.query(`update hubsync.rate_budget set blocked_until = null, blocked_reason = null`);
    }
  });
});
