import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runner } from "graphile-worker";
import pg from "pg";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { createHubSpotApi } from "../src/core/hubspot/client.ts";
import { createLogger } from "../src/core/log.ts";
import { createPool } from "../src/core/db/pool.ts";
import { discover } from "../src/core/schema/discover.ts";
import type { SyncContext } from "../src/core/context.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { drained, startPushWorker } from "./support/push.ts";

/**
 * The write-back trigger of a table is generated for that table, and the push is woken without a
 * job per transaction while one is queued — and no change committed while a push starts or runs is
 * left without a push to send it. Real worker, real PostgreSQL, the simulator as HubSpot.
 */

let db: TestDatabase;
let sim: RunningSimulator;
let ctx: SyncContext;
let workerPool: pg.Pool;
const log = createLogger({ level: "silent" });

async function one<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T> {
  return (await db.pool.query(sql, params)).rows[0] as T;
}

async function pushJobs(): Promise<Array<{ id: string; revision: number; xmax: string; locked_at: Date | null }>> {
  const r = await db.pool.query(
    `select id::text, revision, xmax::text, locked_at from hubsync_worker._private_jobs where key = 'hubsync_push:contacts' order by id`,
  );
  return r.rows;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every queued change of these rows was answered by HubSpot (status sent). */
async function sentFor(emails: string[]): Promise<string[]> {
  const r = await db.pool.query<{ email: string }>(
    `select c.email from hubspot.contacts c
      where c.email = any ($1) and c.id is not null
        and not exists (select from hubsync.outbox ob where ob.local_id = c._sync_local_id and ob.status <> 'sent')
      order by 1`,
    [emails],
  );
  return r.rows.map((x) => x.email);
}

beforeAll(async () => {
  db = await installedDatabase("push_trigger_wake");
  sim = await startSimulator({ rateLimits: false });
  workerPool = createPool(db.url, { max: 8, applicationName: "push wake test worker" });
  ctx = { pool: workerPool, hubspot: createHubSpotApi({ accessToken: sim.token, basePath: sim.url, pool: db.pool, log }), log };
  await db.pool.query(`select hubsync.enable_sync('contacts', array['email', 'firstname', 'lastname', 'annualrevenue', 'date_of_birth'], true)`);
  await discover(ctx, "contacts");
});

afterAll(async () => {
  await workerPool?.end();
  await sim?.close();
  await db?.drop();
});

describe("the generated write-back trigger", () => {
  it("is a function of the table's own that compares its typed columns directly", async () => {
    const t = await one<{ fn: string; def: string }>(
      `select tg.tgfoid::regprocedure::text as fn, pg_get_functiondef(tg.tgfoid) as def
         from pg_trigger tg where tg.tgrelid = 'hubspot.contacts'::regclass and tg.tgname = 'hubsync_outbox'`,
    );
    expect(t.fn).toBe("hubsync._tg_outbox_contacts()");
    for (const col of ["email", "firstname", "lastname", "annualrevenue", "date_of_birth"]) {
      expect(t.def).toContain(`n.${col} is distinct from o.${col}`);
    }
    // updates are logged a statement at a time, by the same function, from the statement's old and new rows
    const triggers = (
      await db.pool.query<{ name: string; def: string }>(
        `select tgname as name, pg_get_triggerdef(oid) as def from pg_trigger where tgrelid = 'hubspot.contacts'::regclass and tgname like 'hubsync_outbox%' order by 1`,
      )
    ).rows;
    expect(triggers.map((x) => x.name)).toEqual(["hubsync_outbox", "hubsync_outbox_update"]);
    expect(triggers[0]!.def).toMatch(/AFTER INSERT OR DELETE ON hubspot\.contacts FOR EACH ROW/);
    expect(triggers[1]!.def).toMatch(/AFTER UPDATE ON hubspot\.contacts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT/);
    expect(triggers[1]!.def).toContain("EXECUTE FUNCTION hubsync._tg_outbox_contacts()");
    // no row-to-jsonb conversion, no look-up of hubsync.columns when a row changes
    expect(t.def).not.toMatch(/to_jsonb\((new|old)\)/);
    expect(t.def).not.toContain("hubsync.columns");
  });

  it("is written again when discovery adds a property or one is archived, in the same transaction", async () => {
    await db.pool.query(`delete from hubsync.outbox`);
    const c = await db.pool.connect();
    try {
      await c.query("begin");
      await c.query(`alter table hubspot.contacts add column jobtitle text`);
      await c.query(`insert into hubsync.columns (object_type, property_name, column_name, hubspot_type, pg_type) values ('contacts', 'jobtitle', 'jobtitle', 'string', 'text')`);
      await c.query(`update hubsync.columns set archived_at = now() where object_type = 'contacts' and property_name = 'lastname'`);
      await c.query("commit");
    } finally {
      c.release();
    }
    const def = (await one<{ def: string }>(`select pg_get_functiondef('hubsync._tg_outbox_contacts()'::regprocedure) as def`)).def;
    expect(def).toContain("n.jobtitle is distinct from o.jobtitle");
    expect(def).not.toMatch(/\b(n|new)\.lastname\b/);
    await db.pool.query(`insert into hubspot.contacts (email, jobtitle, lastname) values ('new-column@example.com', 'Engineer', 'Gone')`);
    const row = await one<{ changes: Record<string, string> }>(`select changes from hubsync.outbox order by id desc limit 1`);
    expect(row.changes).toEqual({ email: "new-column@example.com", jobtitle: "Engineer" });
    // put the catalog back as discovery has it, for the tests below
    await db.pool.query(`update hubsync.columns set archived_at = null where object_type = 'contacts' and property_name = 'lastname'`);
    await db.pool.query(`delete from hubsync.columns where object_type = 'contacts' and property_name = 'jobtitle'`);
    await db.pool.query(`alter table hubspot.contacts drop column jobtitle`);
    await db.pool.query(`delete from hubspot.contacts`);
    await db.pool.query(`delete from hubsync.outbox`);
  });

  it("is removed with write-back, and comes back with it", async () => {
    await db.pool.query(`select hubsync.disable_write_back('contacts')`);
    expect((await one<{ fn: string | null }>(`select to_regprocedure('hubsync._tg_outbox_contacts()')::text as fn`)).fn).toBeNull();
    await db.pool.query(`select hubsync.enable_write_back('contacts')`);
    expect((await one<{ fn: string | null }>(`select to_regprocedure('hubsync._tg_outbox_contacts()')::text as fn`)).fn).toBe(
      "hubsync._tg_outbox_contacts()",
    );
  });
});

describe("waking the push", () => {
  it("while a push job is queued, a transaction neither queues a job nor locks the job row, nor notifies", async () => {
    await db.pool.query(`delete from hubsync_worker._private_jobs`);
    await db.pool.query(`insert into hubspot.contacts (email) values ('first@example.com')`);
    const before = await pushJobs();
    expect(before).toHaveLength(1);
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    let notified = 0;
    listener.on("notification", () => notified++);
    await listener.query(`listen "jobs:insert"`);
    try {
      for (let i = 0; i < 20; i++) await db.pool.query(`insert into hubspot.contacts (email) values ($1)`, [`queued-${i}@example.com`]);
      await db.pool.query(`update hubspot.contacts set firstname = 'Many' where email like 'queued-%'`);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await listener.end();
    }
    const after = await pushJobs();
    // the same job, never replaced (revision), never row-locked by a writer (xmax), no notification
    expect(after).toEqual(before);
    expect(notified).toBe(0);
    expect((await one<{ n: number }>(`select count(*)::int as n from hubsync.outbox where status = 'pending'`)).n).toBe(41);
    // and that job sends them all
    const worker = await startPushWorker(ctx);
    try {
      await drained(db.pool, 30_000);
    } finally {
      await worker.stop();
    }
    expect(await sentFor(["first@example.com", "queued-0@example.com", "queued-19@example.com"])).toHaveLength(3);
  });

  it("a change whose transaction is committing as the queued push starts is sent by that push", async () => {
    // a queued push job, and no worker yet
    await db.pool.query(`insert into hubspot.contacts (email) values ('before-start@example.com')`);
    expect((await pushJobs()).filter((j) => !j.locked_at)).toHaveLength(1);
    const writer = await db.pool.connect();
    let worker: Runner | null = null;
    try {
      await writer.query("begin");
      await writer.query(`insert into hubspot.contacts (email) values ('committing@example.com')`);
      // runs the commit-time wake-up now: it finds the job queued and queues none of its own
      await writer.query(`set constraints all immediate`);
      expect(await pushJobs()).toHaveLength(1);
      worker = await startPushWorker(ctx);
      await waitFor("the worker to start the push", async () => (await pushJobs()).some((j) => j.locked_at !== null));
      // the push waits for the committing writer before it claims anything
      const until = Date.now() + 300;
      while (Date.now() < until) {
        const row = await one<{ status: string }>(
          `select ob.status from hubsync.outbox ob join hubspot.contacts c on c._sync_local_id = ob.local_id where c.email = 'before-start@example.com'`,
        );
        expect(row.status).toBe("pending");
        await new Promise((r) => setTimeout(r, 30));
      }
      await writer.query("commit");
      await drained(db.pool, 30_000);
    } finally {
      writer.release();
      await worker?.stop();
    }
    expect(await sentFor(["before-start@example.com", "committing@example.com"])).toEqual(["before-start@example.com", "committing@example.com"]);
  });

  it("a transaction that stays open long after that still gets its change sent (the push queues a second one)", async () => {
    await db.pool.query(`insert into hubspot.contacts (email) values ('before-long@example.com')`);
    const writer = await db.pool.connect();
    let worker: Runner | null = null;
    try {
      await writer.query("begin");
      await writer.query(`insert into hubspot.contacts (email) values ('long-open@example.com')`);
      await writer.query(`set constraints all immediate`);
      worker = await startPushWorker(ctx);
      await waitFor("the first push to send what was committed", async () => (await sentFor(["before-long@example.com"])).length === 1);
      await new Promise((r) => setTimeout(r, 1500));
      await writer.query("commit");
      await drained(db.pool, 30_000);
    } finally {
      writer.release();
      await worker?.stop();
    }
    expect(await sentFor(["long-open@example.com"])).toEqual(["long-open@example.com"]);
  });

  it("changes committed while a push is sending are sent by a push after it", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let answered = 0;
    const worker = await startPushWorker(ctx, {
      onAnswered: async () => {
        if (answered++ === 0) await held;
      },
    });
    try {
      await db.pool.query(`insert into hubspot.contacts (email) values ('sending@example.com')`);
      await waitFor("the push to have HubSpot's answer", async () => answered > 0);
      // the push holds its claimed rows and has not committed them; these commit meanwhile, one per transaction
      for (let i = 0; i < 5; i++) await db.pool.query(`insert into hubspot.contacts (email) values ($1)`, [`during-${i}@example.com`]);
      await db.pool.query(`update hubspot.contacts set firstname = 'During' where email = 'sending@example.com'`);
      release();
      await drained(db.pool, 30_000);
    } finally {
      release();
      await worker.stop();
    }
    expect(await sentFor(["sending@example.com", ...[0, 1, 2, 3, 4].map((i) => `during-${i}@example.com`)])).toHaveLength(6);
    expect((await one<{ firstname: string }>(`select firstname from hubspot.contacts where email = 'sending@example.com'`)).firstname).toBe("During");
  });
});
