import { afterAll, beforeAll, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { Runner } from "graphile-worker";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { createHubSpotApi, type HubSpotApi } from "../src/core/hubspot/client.ts";
import { createLogger } from "../src/core/log.ts";
import { cycleObject } from "../src/core/pull/cycle.ts";
import { runPush } from "../src/core/push/run.ts";
import type { SyncContext } from "../src/core/context.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { drained, startPushWorker } from "./support/push.ts";

// Publications share the outbox and the push with write-back: the push of a type sends both in
// queue order, a worker killed between HubSpot's answer and the commit duplicates nothing, one
// refused input does not hold back its batch, and records pulled back are never sent again.

let db: TestDatabase;
let sim: RunningSimulator;
let hubspot: HubSpotApi;
let ctx: SyncContext;
let worker: Runner | null = null;
const log = createLogger({ level: process.env.PUBLISH_TEST_LOG ?? "silent" });

type Rec = { id: string; properties: Record<string, string | null> };
const contacts = async (suffix: string) => ((await sim.control.listRecords("contacts")) as Rec[]).filter((r) => r.properties.email?.endsWith(suffix));
const run = async (name: string) => (await db.pool.query(`select hubsync._publish_run($1) as r`, [name])).rows[0].r as { queued: number };

beforeAll(async () => {
  db = await installedDatabase("publish_push");
  sim = await startSimulator({ rateLimits: false });
  hubspot = createHubSpotApi({ accessToken: sim.token, basePath: sim.url, pool: db.pool, log });
  ctx = { pool: db.pool, hubspot, log };
  await sim.control.createProperty("contacts", { name: "customer_code", type: "string", label: "Customer code", hasUniqueValue: true });
  // contacts synced both ways: discovery also keeps the property catalog publications are checked against
  await db.pool.query(`select hubsync.enable_sync('contacts', array['email', 'firstname', 'lastname', 'customer_code'], true)`);
  await cycleObject(ctx, "contacts");
  await db.pool.query(`delete from hubsync_worker._private_jobs`);
  await db.pool.query(`create schema analytics`);
});

afterAll(async () => {
  await worker?.stop();
  hubspot?.close();
  await sim?.close();
  await db?.drop();
});

it("a worker killed between HubSpot's answer and the commit: the next push upserts by the match key, no duplicate", async () => {
  await db.pool.query(`create table analytics.crash (email text, firstname text)`);
  await db.pool.query(`insert into analytics.crash select 'c' || g || '@crash.test', 'Crash ' || g from generate_series(1, 250) g`);
  await db.pool.query(`begin;
    select hubsync.publish('crash', 'analytics.crash', 'contacts', 'email', 'upsert');
    select hubsync_worker.remove_job('hubsync_publish:crash');
    commit`);
  expect((await run("crash")).queued).toBe(250);

  const child = spawn(process.execPath, [join(import.meta.dirname, "./fixtures/push-kill-child.ts")], {
    env: { ...process.env, DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const exit = await new Promise<{ signal: string | null }>((resolve) => child.on("exit", (_code, signal) => resolve({ signal })));
  expect(exit.signal).toBe("SIGKILL");
  expect(out).toContain("answered");
  // HubSpot has them; the database never heard back
  expect(await contacts("@crash.test")).toHaveLength(250);
  expect((await db.pool.query(`select count(*)::int as n from hubsync.outbox where publication = 'crash' and status = 'in_flight'`)).rows[0].n).toBe(250);
  expect((await db.pool.query(`select count(*)::int as n from hubsync.publish_state where publication = 'crash' and status = 'pending'`)).rows[0].n).toBe(250);

  // a row changed while no worker runs
  await db.pool.query(`update analytics.crash set firstname = 'Changed while down' where email = 'c7@crash.test'`);
  expect((await run("crash")).queued).toBe(1);

  worker = await startPushWorker(ctx);
  await db.pool.query(`select hubsync._wake_push('contacts')`);
  await drained(db.pool, 30_000);
  const after = await contacts("@crash.test");
  expect(after).toHaveLength(250);
  expect(new Set(after.map((r) => r.properties.email)).size).toBe(250);
  expect(after.find((r) => r.properties.email === "c7@crash.test")!.properties.firstname).toBe("Changed while down");
  expect((await db.pool.query(`select status, count(*)::int as n from hubsync.publish_state where publication = 'crash' group by 1`)).rows).toEqual([{ status: "sent", n: 250 }]);
  await worker.stop();
  worker = null;
});

it("one input HubSpot refuses does not hold back its batch: it is found, rejected with HubSpot's reason, the rest sent", async () => {
  // HubSpot refuses a batch upsert whole when one input takes another record's unique value
  const taken = await sim.control.createRecord("contacts", { email: "owner@iso.test", customer_code: "TAKEN" });
  await db.pool.query(`create table analytics.iso (email text, customer_code text)`);
  await db.pool.query(`insert into analytics.iso select 'i' || g || '@iso.test', 'K' || g from generate_series(1, 60) g`);
  await db.pool.query(`update analytics.iso set customer_code = 'TAKEN' where email = 'i30@iso.test'`);
  await db.pool.query(`begin;
    select hubsync.publish('iso', 'analytics.iso', 'contacts', 'email', 'upsert');
    select hubsync_worker.remove_job('hubsync_publish:iso');
    commit`);
  await run("iso");
  const mark = (await sim.control.requests()).length;
  const r = await runPush(ctx, "contacts", { coalesceMs: 0 });
  expect(r).toMatchObject({ sent: 59, rejected: 1 });
  const upserts = (await sim.control.requests()).slice(mark).filter((c) => c.path.includes("/batch/upsert"));
  expect(upserts.length).toBeGreaterThan(1);
  // found by halves (the conflict names no property): about two calls per halving of 60
  expect(upserts.length).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(60)));
  expect(await contacts("@iso.test")).toHaveLength(60); // 59 + the record that holds TAKEN
  const rejected = (await db.pool.query(`select key, status, error from hubsync.publish_state where publication = 'iso' and status <> 'sent'`)).rows;
  expect(rejected).toHaveLength(1);
  expect(rejected[0]).toMatchObject({ key: "i30@iso.test", status: "rejected" });
  expect(rejected[0].error).toMatch(/TAKEN|customer_code|already/i);
  expect((await sim.control.getRecord("contacts", taken.id))!.properties.email).toBe("owner@iso.test");
});

it("write-back and publication changes to the same records go in queue order: the later change wins", async () => {
  const one = await sim.control.createRecord("contacts", { email: "one@order.test", firstname: "start" });
  const two = await sim.control.createRecord("contacts", { email: "two@order.test", firstname: "start" });
  await cycleObject(ctx, "contacts"); // both pulled into hubspot.contacts
  await db.pool.query(`delete from hubsync_worker._private_jobs`);
  await db.pool.query(`create table analytics.order_src (email text, firstname text)`);
  await db.pool.query(`insert into analytics.order_src values ('one@order.test', 'from publication'), ('two@order.test', 'from publication')`);
  await db.pool.query(`begin;
    select hubsync.publish('order', 'analytics.order_src', 'contacts', 'email', 'upsert');
    select hubsync_worker.remove_job('hubsync_publish:order');
    commit`);

  await db.pool.query(`update hubspot.contacts set firstname = 'from write-back' where email = 'two@order.test'`); // before the publication's
  await run("order");
  await db.pool.query(`update hubspot.contacts set firstname = 'from write-back' where email = 'one@order.test'`); // after it
  await runPush(ctx, "contacts", { coalesceMs: 0 });
  expect((await sim.control.getRecord("contacts", one.id))!.properties.firstname).toBe("from write-back");
  expect((await sim.control.getRecord("contacts", two.id))!.properties.firstname).toBe("from publication");
});

it("records pulled back after a publication never trigger a re-send, nor a write-back change", async () => {
  const before = (await db.pool.query(`select count(*)::int as n from hubsync.outbox`)).rows[0].n;
  await cycleObject(ctx, "contacts"); // the published values come back into hubspot.contacts
  expect((await db.pool.query(`select count(*)::int as n from hubspot.contacts where email like '%@crash.test'`)).rows[0].n).toBe(250);
  const mark = (await sim.control.requests()).length;
  for (const name of ["crash", "iso", "order"]) expect((await run(name)).queued).toBe(0);
  expect((await db.pool.query(`select count(*)::int as n from hubsync.outbox`)).rows[0].n).toBe(before);
  const r = await runPush(ctx, "contacts", { coalesceMs: 0 });
  expect(r.requests).toBe(0);
  expect((await sim.control.requests()).slice(mark)).toEqual([]);
});
