import pg from "pg";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { createPool } from "../src/core/db/pool.ts";
import { startReceiver, type RunningReceiver } from "../src/core/webhooks/receiver.ts";
import { installedDatabase } from "./support/database.ts";
import { quietLog } from "./support/worker.ts";
import type { TestDatabase } from "./support/database.ts";
import { event, inboxCount, postBatch, testConfig } from "./support/webhooks.ts";

// When the receiver cannot store a batch it must not say 204: HubSpot would drop the events. It
// answers 503 (with Retry-After) so HubSpot sends the batch again, and /healthz answers 503 while
// the database is unreachable, so a load balancer stops sending to it.

let db: TestDatabase;
let pool: ReturnType<typeof createPool>;
let receiver: RunningReceiver;

beforeAll(async () => {
  db = await installedDatabase("webhooks_unavailable");
  pool = createPool(db.url, { max: 3 });
  receiver = await startReceiver({ pool, config: testConfig(), log: quietLog });
});

afterAll(async () => {
  await receiver?.close();
  await pool?.end();
  await db?.drop();
});

const batch = () => [event("contact.propertyChange", { objectId: 501, propertyName: "firstname", propertyValue: "Kept" })];

it("answers 503 with Retry-After when the batch cannot be stored, and stores HubSpot's retry", async () => {
  // the inbox refuses writes, as a full disk or a read-only standby would
  await db.pool.query(`create function public.refuse_inbox() returns trigger language plpgsql as $$ begin raise exception 'could not extend file: No space left on device'; end $$`);
  await db.pool.query(`create trigger refuse before insert on hubsync.webhook_events for each statement execute function public.refuse_inbox()`);
  const refused = await postBatch(receiver.url, batch());
  expect(refused.status).toBe(503);
  expect(refused.headers.get("retry-after")).toBe("5");
  expect(await inboxCount(db.pool)).toBe(0);
  const queued = await db.pool.query(`select count(*)::int as n from hubsync_worker.jobs where task_identifier = 'hubsync_webhook_apply'`);
  expect(queued.rows[0].n).toBe(0);

  await db.pool.query(`drop trigger refuse on hubsync.webhook_events`);
  expect((await postBatch(receiver.url, batch())).status).toBe(204);
  expect(await inboxCount(db.pool)).toBe(1);
});

it("/healthz answers 503 while the database is unreachable, 200 again once it is back", async () => {
  expect((await fetch(`${receiver.url}/healthz`)).status).toBe(200);
  // the database goes away under the running receiver: its connections are cut and it refuses new ones
  const admin = new pg.Client({ connectionString: inject("adminUrl") });
  await admin.connect();
  try {
    await admin.query(`alter database ${db.name} with allow_connections false`);
    await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1`, [db.name]);
    const health = await fetch(`${receiver.url}/healthz`);
    expect(health.status).toBe(503);
    expect((await postBatch(receiver.url, batch())).status).toBe(503);
  } finally {
    await admin.query(`alter database ${db.name} with allow_connections true`).catch(() => undefined);
    await admin.end();
  }
  expect((await fetch(`${receiver.url}/healthz`)).status).toBe(200);
});
