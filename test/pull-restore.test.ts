import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEARCH_DISORDER, startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { reconcile } from "../src/core/pull/reconcile.ts";
import { runPush } from "../src/core/push/run.ts";
import { applyWebhookEvents } from "../src/core/webhooks/apply.ts";
import { insertBatch } from "../src/core/webhooks/inbox.ts";
import { connectWorker, installedDatabase } from "./pull-helpers.ts";
import type { TestDatabase } from "./support/database.ts";

/**
 * Found by the soak: a row deleted in SQL (archived in HubSpot by the push) that a HubSpot user
 * then restores must come back. A restore does not move updatedAt, so the pull's guard against
 * resurrecting locally deleted rows ("HubSpot's copy is older than the archive we sent") kept the
 * restored record out of the table for good.
 */
let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;

beforeAll(async () => {
  db = await installedDatabase("pull_restore");
  sim = await startSimulator({ rateLimits: false, faults: SEARCH_DISORDER });
  worker = connectWorker(db.url, sim);
  for (const name of ["Acme", "Globex", "Initech"]) await sim.control.createRecord("companies", { name });
  await db.pool.query(`select hubsync.enable_sync('companies', null, true)`);
  expect((await cycleAll(worker, null)).filter((r) => r.error)).toEqual([]);
});

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

const present = async (id: string) => (await db.pool.query(`select 1 from hubspot.companies where id = $1`, [id])).rowCount === 1;

describe("a record deleted in SQL and restored in HubSpot", () => {
  it("comes back with the reconcile", async () => {
    const { rows } = await db.pool.query<{ id: string }>(`select id from hubspot.companies where name = 'Globex'`);
    const id = rows[0]!.id;
    await db.pool.query(`delete from hubspot.companies where id = $1`, [id]);
    await runPush(worker, "companies", { coalesceMs: 0 });
    expect((await sim.control.getRecord("companies", id))?.archived).toBe(true);

    // A pull of the archived list changes nothing: the row is already gone.
    expect(await sim.control.restoreRecord("companies", id)).toBe(true);
    await reconcile(worker, "companies");
    expect(await present(id)).toBe(true);
  });

  it("comes back at once with HubSpot's restore webhook", async () => {
    const { rows } = await db.pool.query<{ id: string }>(`select id from hubspot.companies where name = 'Initech'`);
    const id = rows[0]!.id;
    await db.pool.query(`delete from hubspot.companies where id = $1`, [id]);
    await runPush(worker, "companies", { coalesceMs: 0 });
    expect((await sim.control.getRecord("companies", id))?.archived).toBe(true);

    expect(await sim.control.restoreRecord("companies", id)).toBe(true);
    await insertBatch(db.pool, [{ eventId: 1, subscriptionType: "company.restore", objectId: Number(id), occurredAt: Date.now(), attemptNumber: 0 }]);
    const applied = await applyWebhookEvents(worker, { minIntervalMs: 0 });
    expect(applied.events).toBe(1);
    expect(await present(id)).toBe(true);
  });
});
