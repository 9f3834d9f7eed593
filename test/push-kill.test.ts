import { afterAll, beforeAll, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { createHubSpotApi, type HubSpotApi } from "../src/core/hubspot/client.ts";
import { createLogger } from "../src/core/log.ts";
import { discover } from "../src/core/schema/discover.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { startWorker, type RunningWorker } from "../src/core/worker/runner.ts";
import { drained } from "./support/push.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let hubspot: HubSpotApi;
let worker: RunningWorker | null = null;
const emptyCrontab = join(mkdtempSync(join(tmpdir(), "hubsync-push-")), "crontab");
writeFileSync(emptyCrontab, "# no schedules in this test\n");
const log = createLogger({ level: process.env.PUSH_TEST_LOG ?? "silent" });

beforeAll(async () => {
  db = await installedDatabase("push_kill");
  sim = await startSimulator({ rateLimits: false });
  hubspot = createHubSpotApi({ accessToken: sim.token, basePath: sim.url, pool: db.pool, log });
  await db.pool.query(`select hubsync.enable_sync('contacts', array['email', 'firstname', 'lastname'], true)`);
  await discover({ pool: db.pool, hubspot, log }, "contacts"); // write-back triggers follow discovery
  await db.pool.query(`select hubsync.enable_sync('notes', array['hs_note_body', 'hs_timestamp'], true)`);
  await discover({ pool: db.pool, hubspot, log }, "notes");
});

afterAll(async () => {
  await worker?.stop();
  hubspot?.close();
  await sim?.close();
  await db?.drop();
});

it("a worker killed (SIGKILL) between HubSpot's answer and the commit leaves no duplicate and loses no change", async () => {
  // 150 creates and an update of an existing record, all in flight when the worker dies.
  await db.pool.query(`insert into hubspot.contacts (email, firstname) select 'k' || g || '@kill.test', 'K' from generate_series(1, 150) g`);

  const child = spawn(process.execPath, [join(import.meta.dirname, "./fixtures/push-kill-child.ts")], {
    env: { ...process.env, DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  expect(exit.signal).toBe("SIGKILL");
  expect(out).toContain("answered");

  // HubSpot created them; the database never heard back.
  const remote = (await sim.control.listRecords("contacts")) as Array<{ properties: Record<string, string> }>;
  expect(remote.filter((r) => r.properties.email?.endsWith("@kill.test"))).toHaveLength(150);
  const local = (await db.pool.query(`select count(*) filter (where id is null)::int as no_id, count(*)::int as n from hubspot.contacts`)).rows[0];
  expect(local).toEqual({ no_id: 150, n: 150 });
  expect((await db.pool.query(`select count(*)::int as n from hubsync.outbox where status = 'in_flight'`)).rows[0].n).toBe(150);

  // A change made while no worker runs.
  await db.pool.query(`update hubspot.contacts set lastname = 'changed while down' where email = 'k7@kill.test'`);

  // Restart `hubsync worker` (the real runner, tasks/): its start-up sweep picks the leftovers up
  // although the dead worker's job stays locked.
  // Task modules are loaded by graphile-worker outside vitest's module graph: they build their context from the environment.
  process.env.DATABASE_URL = db.url;
  process.env.HUBSPOT_ACCESS_TOKEN = sim.token;
  process.env.HUBSPOT_BASE_URL = sim.url;
  await db.pool.query(`select hubsync_worker.remove_job('hubsync_discover:contacts')`);
  worker = await startWorker({ databaseUrl: db.url, crontabFile: emptyCrontab, log, concurrency: 2 });
  await drained(db.pool);

  const after = (await sim.control.listRecords("contacts")) as Array<{ id: string; properties: Record<string, string> }>;
  const killed = after.filter((r) => r.properties.email?.endsWith("@kill.test"));
  expect(killed).toHaveLength(150);
  expect(new Set(killed.map((r) => r.properties.email)).size).toBe(150);
  expect(killed.find((r) => r.properties.email === "k7@kill.test")!.properties.lastname).toBe("changed while down");
  const rows = (await db.pool.query(`select id, email from hubspot.contacts order by email`)).rows;
  const remoteIds = new Map(killed.map((r) => [r.properties.email, r.id]));
  expect(rows).toHaveLength(150);
  for (const r of rows) expect(r.id).toBe(remoteIds.get(r.email));
  expect((await db.pool.query(`select status, count(*)::int as n from hubsync.outbox group by 1`)).rows).toEqual([{ status: "sent", n: 151 }]);
});

it("the same for notes, which HubSpot gives no unique-value property: looked up by a search, not created twice", async () => {
  await worker?.stop();
  worker = null;
  await db.pool.query(`insert into hubspot.notes (hs_note_body, hs_timestamp) select 'Killed ' || g, '2026-12-01T10:00:00Z' from generate_series(1, 40) g`);
  const child = spawn(process.execPath, [join(import.meta.dirname, "./fixtures/push-kill-child.ts")], {
    env: { ...process.env, DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exit = await new Promise<{ signal: string | null }>((resolve) => child.on("exit", (_code, signal) => resolve({ signal })));
  expect(exit.signal).toBe("SIGKILL");
  const killed = () => sim.control.listRecords("notes").then((rs) => (rs as Array<{ id: string; properties: Record<string, string> }>).filter((r) => r.properties.hs_note_body?.startsWith("Killed ")));
  expect(await killed()).toHaveLength(40);
  expect((await db.pool.query(`select count(*)::int as n from hubspot.notes where id is null`)).rows[0].n).toBe(40);
  await db.pool.query(`update hubspot.notes set hs_note_body = 'Killed 7, edited while down' where hs_note_body = 'Killed 7'`);

  process.env.HUBSYNC_SEARCH_SETTLE_MS = "1000";
  try {
    worker = await startWorker({ databaseUrl: db.url, crontabFile: emptyCrontab, log, concurrency: 2 });
    await drained(db.pool, 30_000);
  } finally {
    delete process.env.HUBSYNC_SEARCH_SETTLE_MS;
  }
  const after = await killed();
  expect(after).toHaveLength(40);
  expect(after.map((r) => r.properties.hs_note_body)).toContain("Killed 7, edited while down");
  const local = (await db.pool.query(`select id, hs_note_body from hubspot.notes where hs_note_body like 'Killed %'`)).rows;
  const remoteIds = new Map(after.map((r) => [r.properties.hs_note_body, r.id]));
  expect(local).toHaveLength(40);
  for (const r of local) expect(r.id).toBe(remoteIds.get(r.hs_note_body));
  expect((await db.pool.query(`select status, count(*)::int as n from hubsync.outbox where object_type = 'notes' group by 1`)).rows).toEqual([{ status: "sent", n: 41 }]);
});
