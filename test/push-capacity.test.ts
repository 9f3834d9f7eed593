import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { pushConcurrencySetting, startWorker, type RunningWorker } from "../src/core/worker/runner.ts";
import { rateLimitSettings } from "../src/core/config.ts";
import { createMemoryRateBudget, createPgRateBudget } from "../src/core/hubspot/rate-budget.ts";
import { enqueueInDatabase } from "../src/core/jobs.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { quietLog } from "./support/worker.ts";

// Pushes have worker slots and a rate-budget lane of their own: a committed change reaches HubSpot
// while backfills and pulls hold every other slot and fill the rate window.

let db: TestDatabase;
let sim: RunningSimulator;
let worker: RunningWorker | null = null;
const emptyCrontab = join(mkdtempSync(join(tmpdir(), "hubsync-pushcap-")), "crontab");
writeFileSync(emptyCrontab, "# no schedules in this test\n");
const savedEnv = { ...process.env };

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 45_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  db = await installedDatabase("push_capacity");
  sim = await startSimulator({ rateLimits: false });
  for (let i = 0; i < 20; i++) await sim.control.createRecord("contacts", { email: `c${i}@cap.test`, firstname: "Before" });
  for (let i = 0; i < 20; i++) await sim.control.createRecord("companies", { name: `Company ${i}`, domain: `c${i}.cap.test` });
});

afterAll(async () => {
  await worker?.stop();
  process.env = savedEnv;
  await sim?.close();
  await db?.drop();
});

describe("the worker", () => {
  it("sends a committed change while a pull holds every other job slot", async () => {
    // The task context is built from the environment, as in `hubsync worker`.
    // A hung request is given up after 2 s and tried 6 times with a growing pause between: the pull
    // below holds its slot for over 20 s, and stopping the worker at the end waits for one attempt.
    Object.assign(process.env, { DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url, HUBSYNC_HTTP_TIMEOUT_MS: "2000" });
    await db.pool.query(`select hubsync.enable_sync('contacts', array['email', 'firstname'], true)`);
    await db.pool.query(`select hubsync.enable_sync('companies', array['name', 'domain'])`);
    // One slot for everything but pushes: once a pull holds it, nothing else of the main runner runs.
    worker = await startWorker({ databaseUrl: db.url, crontabFile: emptyCrontab, log: quietLog, concurrency: 1, pushConcurrency: 1, shutdownTimeoutMs: 1_000 });
    await waitFor("both types copied", async () => {
      const { rows } = await db.pool.query<{ n: number }>(
        `select count(*)::int as n from hubsync.objects where object_type in ('contacts', 'companies') and phase = 'live'`,
      );
      const jobs = await db.pool.query<{ n: number }>(`select count(*)::int as n from hubsync_worker.jobs where task_identifier <> 'hubsync_push'`);
      return rows[0]!.n === 2 && jobs.rows[0]!.n === 0;
    });

    // HubSpot stops answering anything about companies: their pull hangs in its request.
    await sim.control.configure({ faults: { timeoutRate: 1, timeoutMs: 600_000, faultPath: "/companies" } });
    await enqueueInDatabase(db.pool, "hubsync_pull", "companies");
    const pullJob = async () =>
      (await db.pool.query<{ locked: boolean }>(`select locked_at is not null as locked from hubsync_worker.jobs where key = 'hubsync_pull:companies'`)).rows[0]
        ?.locked;
    await waitFor("the companies pull to hold the worker's slot", pullJob);
    // a job of the main runner queued behind it stays waiting: its one slot is taken
    await enqueueInDatabase(db.pool, "hubsync_pull", "contacts");

    const { rows } = await db.pool.query<{ id: string }>(`select id from hubspot.contacts order by id limit 1`);
    const id = rows[0]!.id;
    await db.pool.query(`update hubspot.contacts set firstname = 'Pushed past the pull' where id = $1`, [id]);
    const remote = await waitFor("the change to reach HubSpot", async () => {
      const r = await sim.control.getRecord("contacts", id);
      return r?.properties.firstname === "Pushed past the pull" ? r : undefined;
    });
    expect(remote.properties.firstname).toBe("Pushed past the pull");
    // ...and it did not wait for the pull: that one still hangs, and the contacts pull still waits for a slot
    expect(await pullJob()).toBe(true);
    const waiting = await db.pool.query<{ locked: boolean }>(`select locked_at is not null as locked from hubsync_worker.jobs where key = 'hubsync_pull:contacts'`);
    expect(waiting.rows[0]?.locked).toBe(false);
    // HubSpot's answer is committed to the outbox just after it arrives
    await waitFor("the outbox row to be marked sent", async () => {
      const outbox = await db.pool.query<{ status: string }>(`select status from hubsync.outbox where record_id = $1`, [id]);
      return outbox.rows.length === 1 && outbox.rows[0]!.status === "sent";
    });

    // HubSpot answers again: the pull's next attempt goes through and the worker can stop
    await sim.control.configure({ faults: { timeoutRate: 0, faultPath: "" } });
    await worker.stop();
    worker = null;
  });
});

describe("the rate budget", () => {
  // Time is moved by ageing the reservations in hubsync.rate_budget, so nothing here depends on the clock's speed.
  const reserve = async (push: boolean) =>
    (await db.pool.query<{ wait_ms: number; reason: string | null }>(`select wait_ms, reason from hubsync.rate_reserve('general', 'foreground', $1)`, [push])).rows[0]!;
  /** The oldest reservation in the window leaves it, as if its 10 seconds had passed. */
  const ageOldest = () =>
    db.pool.query(`update hubsync.rate_budget set slots = array(select s from unnest(slots) s order by s offset 1) || (now() - interval '1 hour') where bucket = 'general'`);

  it("gives a push the next free slot of a window a backfill keeps full, within the pushes' share", async () => {
    await db.pool.query(`update hubsync.rate_budget set slots = '{}', push_slots = '{}', push_waiting_until = null where bucket = 'general'`);
    // 4 requests per window, 2 of them for pushes ahead of the rest
    const budget = createPgRateBudget(db.pool, { generalLimit: 4, headroom: 1, pushShare: 0.5 });
    for (let i = 0; i < 4; i++) await budget.reserve("general");
    expect(await reserve(false)).toMatchObject({ reason: "window" });
    // a push finds the window full too, and says it is waiting
    expect(await reserve(true)).toMatchObject({ reason: "window" });
    const lease = await db.pool.query<{ waiting: boolean }>(`select push_waiting_until > now() as waiting from hubsync.rate_budget where bucket = 'general'`);
    expect(lease.rows[0]!.waiting).toBe(true);

    // a slot frees: the backfill holds back, the push takes it
    await ageOldest();
    expect(await reserve(false)).toMatchObject({ reason: "push" });
    expect(await reserve(true)).toMatchObject({ wait_ms: 0 });
    expect(await reserve(false)).toMatchObject({ reason: "window" });

    // the second push slot of the window the same way
    await reserve(true);
    await ageOldest();
    expect(await reserve(false)).toMatchObject({ reason: "push" });
    expect(await reserve(true)).toMatchObject({ wait_ms: 0 });

    // a third push is beyond the share: it waits its turn, and holds nobody back
    expect(await reserve(true)).toMatchObject({ reason: "window" });
    await ageOldest();
    expect(await reserve(false)).toMatchObject({ wait_ms: 0 });
  });

  it("lets nothing past a full window, pushes included", async () => {
    await db.pool.query(`update hubsync.rate_budget set slots = '{}', push_slots = '{}', push_waiting_until = null where bucket = 'general'`);
    const budget = createPgRateBudget(db.pool, { generalLimit: 4, headroom: 1, pushShare: 1 });
    for (let i = 0; i < 4; i++) await budget.reserve("general", i % 2 === 0);
    expect(await reserve(true)).toMatchObject({ reason: "window" });
    expect(await reserve(false)).toMatchObject({ reason: "window" });
    const { rows } = await db.pool.query<{ n: number }>(`select cardinality(slots) as n from hubsync.rate_budget where bucket = 'general'`);
    expect(rows[0]!.n).toBe(4);
  });

  it("gives pushes no precedence with HUBSYNC_PUSH_RATE_SHARE=0", async () => {
    await db.pool.query(`update hubsync.rate_budget set slots = '{}', push_slots = '{}', push_waiting_until = null where bucket = 'general'`);
    const budget = createPgRateBudget(db.pool, { generalLimit: 2, headroom: 1, ...rateLimitSettings({ HUBSYNC_PUSH_RATE_SHARE: "0" }) });
    await budget.reserve("general");
    await budget.reserve("general");
    expect(await reserve(true)).toMatchObject({ reason: "window" });
    await ageOldest();
    expect(await reserve(false)).toMatchObject({ wait_ms: 0 });
  });

  it("without a database, a waiting push goes before a backfill's request that waited longer", async () => {
    const budget = createMemoryRateBudget({ generalLimit: 2, headroom: 1, generalWindowMs: 300, marginMs: 0, pushShare: 0.5 });
    await budget.reserve("general");
    await budget.reserve("general");
    const order: string[] = [];
    const pull = budget.reserve("general").then(() => order.push("pull"));
    await new Promise((r) => setTimeout(r, 20));
    const push = budget.reserve("general", true).then(() => order.push("push"));
    await Promise.all([pull, push]);
    expect(order).toEqual(["push", "pull"]);
  });
});

describe("the settings", () => {
  it("refuse a push concurrency or rate share that is not one, naming the variable", () => {
    expect(pushConcurrencySetting({})).toBe(2);
    expect(pushConcurrencySetting({ HUBSYNC_PUSH_CONCURRENCY: "4" })).toBe(4);
    expect(() => pushConcurrencySetting({ HUBSYNC_PUSH_CONCURRENCY: "many" })).toThrow(/HUBSYNC_PUSH_CONCURRENCY must be a whole number from 1 to 100, got "many"/);
    expect(() => pushConcurrencySetting({ HUBSYNC_PUSH_CONCURRENCY: "0" })).toThrow(/HUBSYNC_PUSH_CONCURRENCY/);
    expect(rateLimitSettings({ HUBSYNC_PUSH_RATE_SHARE: "0.25" })).toMatchObject({ pushShare: 0.25 });
    expect(() => rateLimitSettings({ HUBSYNC_PUSH_RATE_SHARE: "2" })).toThrow(/HUBSYNC_PUSH_RATE_SHARE must be a fraction in \[0, 1\], got "2"/);
  });
});
