import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAssociations } from "../src/core/associations/read.ts";
import { startSimulator } from "../src/simulator/index.ts";
import { connectWorker } from "./support/worker.ts";
import { installedDatabase } from "./support/database.ts";
import type { TestDatabase } from "./support/database.ts";

/**
 * HubSpot gives association calls a burst window of their own (100 per 10 s on Free/Starter, 150 on
 * Professional/Enterprise). Two worker processes reading associations as fast as they can keep to
 * it between them through the Postgres budget, at both tiers, and never meet a 429.
 */

let db: TestDatabase;

beforeAll(async () => {
  db = await installedDatabase("assoc_window");
});
afterAll(async () => {
  await db?.drop();
});

describe("association calls", () => {
  // Each tier's case waits out a second window by design: the two run side by side, each on a
  // database of its own, since the budget's rows are the database's.
  it.concurrent.each([
    { tier: "free", window: 100 },
    { tier: "pro", window: 150 },
  ] as const)("at tier $tier ($window per 10 s), two processes share the associations' own window: 0 × 429, and the general window stays free", async ({ tier, window }) => {
    const own = await installedDatabase(`assoc_window_${tier}`);
    const sim = await startSimulator({ tier });
    const a = connectWorker(own.url, sim, { limits: {} });
    const b = connectWorker(own.url, sim, { limits: {} });
    try {
      const contacts: string[] = [];
      for (let i = 0; i < 40; i++) contacts.push((await sim.control.createRecord("contacts", { email: `w${i}@example.com` })).id);
      await own.pool.query(`update hubsync.rate_budget set requests = 0, rate_limited = 0`);
      // learn the tier from one general call's headers, as a worker does on its first page
      await a.hubspot.listPage("contacts", { limit: 1 });
      await b.hubspot.listPage("contacts", { limit: 1 });
      await sim.control.resetCounters();
      const calls = window + 30;
      const started = Date.now();
      const read = (w: typeof a, n: number) =>
        Array.from({ length: n }, (_, i) => readAssociations(w.hubspot, "0-1", "0-2", [contacts[i % contacts.length]!], { batchSize: 1 }));
      await Promise.all([...read(a, calls / 2), ...read(b, calls / 2)]);
      const ms = Date.now() - started;
      const counters = await sim.control.counters();
      console.log(`[${tier}] ${calls} association reads in ${ms} ms; 429s: ${counters.byStatus?.["429"] ?? 0}`);
      expect(counters.byStatus?.["429"] ?? 0).toBe(0);
      expect(a.hubspot.stats.rateLimited + b.hubspot.stats.rateLimited).toBe(0);
      // more calls than one window holds: the second window had to wait
      expect(ms).toBeGreaterThan(9_000);
      const { rows } = await own.pool.query(`select bucket, requests::int from hubsync.rate_budget where bucket in ('general', 'associations') order by bucket`);
      expect(rows).toEqual([
        { bucket: "associations", requests: calls },
        { bucket: "general", requests: 2 },
      ]);
    } finally {
      await a.close();
      await b.close();
      await sim.close();
      await own.drop();
    }
  }, 60_000);
});

describe("HUBSYNC_ASSOCIATIONS_LIMIT", () => {
  it("general: association calls take slots of the general window instead", async () => {
    const sim = await startSimulator({ tier: "free" });
    const w = connectWorker(db.url, sim, { limits: { associationsMode: "general" } });
    try {
      const c = await sim.control.createRecord("contacts", { email: "g@example.com" });
      await db.pool.query(`update hubsync.rate_budget set requests = 0`);
      for (let i = 0; i < 3; i++) await readAssociations(w.hubspot, "0-1", "0-2", [c.id]);
      const { rows } = await db.pool.query(`select bucket, requests::int from hubsync.rate_budget where bucket in ('general', 'associations') order by bucket`);
      expect(rows).toEqual([
        { bucket: "associations", requests: 0 },
        { bucket: "general", requests: 3 },
      ]);
    } finally {
      await w.close();
      await sim.close();
    }
  });
});
