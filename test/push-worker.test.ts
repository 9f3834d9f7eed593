import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runner } from "graphile-worker";
import pg from "pg";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { createHubSpotApi, type HubSpotApi } from "../src/core/hubspot/client.ts";
import { createLogger } from "../src/core/log.ts";
import { createPool } from "../src/core/db/pool.ts";
import { discover } from "../src/core/schema/discover.ts";
import { cycleObject } from "../src/core/pull/cycle.ts";
import { planPush, renderDryRun } from "../src/core/push/dry-run.ts";
import type { SyncContext } from "../src/core/context.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { ensureAssociationTables } from "../src/core/associations/pairs.ts";
import { drained, startPushWorker } from "./support/push.ts";
import { runMain } from "./support/cli.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let hubspot: HubSpotApi;
let ctx: SyncContext;
let workerPool: pg.Pool;
let worker: Runner;
const log = createLogger({ level: "silent" });

const PROPERTIES: Record<string, string[]> = {
  companies: ["name", "domain", "numberofemployees", "is_public"],
  contacts: ["email", "firstname", "lastname", "hs_email_optout", "date_of_birth", "annualrevenue", "hs_lead_status"],
  deals: ["dealname", "amount", "closedate"],
};

interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  at: number | string;
}

async function requestsSince(since: number): Promise<LoggedRequest[]> {
  const all = (await sim.control.requests({ since })) as unknown as LoggedRequest[];
  return all.filter((r) => !r.path.startsWith("/_sim"));
}

const calls = (reqs: LoggedRequest[]) => reqs.map((r) => `${r.method} ${r.path.split("?")[0]}`);

/** Runs the hubsync CLI as a child (async: the simulator answers from this process). */
/** `hubsync …` as a user runs it, in this process (runMain): its output and the code it exits with. */
async function hubsyncCli(...args: string[]): Promise<{ status: number | null; stdout: string }> {
  const { code, stdout } = await runMain(args, { DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url, HUBSYNC_LOG_LEVEL: "silent" });
  return { status: code, stdout };
}

async function one<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T> {
  return (await db.pool.query(sql, params)).rows[0] as T;
}

beforeAll(async () => {
  db = await installedDatabase("push_worker");
  sim = await startSimulator({ rateLimits: false });
  hubspot = createHubSpotApi({ accessToken: sim.token, basePath: sim.url, pool: db.pool, log });
  // The worker's own pool, as `hubsync worker` has (the test's queries use db.pool).
  workerPool = createPool(db.url, { max: 8, applicationName: "push test worker" });
  ctx = { pool: workerPool, hubspot, log };
  for (const [type, props] of Object.entries(PROPERTIES)) {
    await db.pool.query(`select hubsync.enable_sync($1, $2, true)`, [type, props]);
    await discover(ctx, type);
  }
  // The association tables (src/core/associations/pairs.ts; they call _refresh_write_back, which puts the outbox trigger on them).
  await ensureAssociationTables(db.pool, log);
  worker = await startPushWorker(ctx);
  await drained(db.pool);
});

afterAll(async () => {
  await worker?.stop();
  await workerPool?.end();
  hubspot?.close();
  await sim?.close();
  await db?.drop();
});

describe("write-back through the worker — one story, in order: later tests build on what earlier ones left", () => {
  it("sends inserts, updates and deletes on three object types with batch upsert/update/archive", async () => {
    const since = Date.now();
    await db.pool.query(`insert into hubspot.companies (name, domain, numberofemployees, is_public) values ('Acme', 'acme.test', 40, true)`);
    await db.pool.query(
      `insert into hubspot.contacts (email, firstname, annualrevenue, hs_email_optout, date_of_birth)
       values ('ann@acme.test', 'Ann', 1200.5, false, '1990-02-03'), ('bob@acme.test', 'Bob', null, null, null)`,
    );
    await db.pool.query(`insert into hubspot.deals (dealname, amount, closedate) values ('Big deal', 1000, '2026-12-01T10:00:00Z')`);
    await drained(db.pool);

    const company = await one<{ id: string }>(`select id from hubspot.companies where name = 'Acme'`);
    const ann = await one<{ id: string; _sync_error: string | null }>(`select id, _sync_error from hubspot.contacts where email = 'ann@acme.test'`);
    const deal = await one<{ id: string }>(`select id from hubspot.deals where dealname = 'Big deal'`);
    expect(company.id).toMatch(/^\d+$/);
    expect(ann).toMatchObject({ id: expect.stringMatching(/^\d+$/), _sync_error: null });
    const remoteAnn = (await sim.control.getRecord("contacts", ann.id)) as { properties: Record<string, string> };
    expect(remoteAnn.properties).toMatchObject({ email: "ann@acme.test", firstname: "Ann", annualrevenue: "1200.5", hs_email_optout: "false", date_of_birth: "1990-02-03" });
    const remoteCompany = (await sim.control.getRecord("companies", company.id)) as { properties: Record<string, string> };
    expect(remoteCompany.properties).toMatchObject({ name: "Acme", numberofemployees: "40", is_public: "true" });
    const remoteDeal = (await sim.control.getRecord("deals", deal.id)) as { properties: Record<string, string> };
    expect(remoteDeal.properties.amount).toBe("1000");
    expect(Date.parse(remoteDeal.properties.closedate!)).toBe(Date.parse("2026-12-01T10:00:00Z"));
    const made = calls(await requestsSince(since));
    for (const t of ["companies", "contacts", "deals"]) expect(made).toContain(`POST /crm/objects/2026-09/${t}/batch/upsert`);
    expect(made.filter((c) => c.includes("batch/upsert"))).toHaveLength(3); // one call per type, both contacts together

    const since2 = Date.now();
    await db.pool.query(`update hubspot.contacts set firstname = 'Annie' where email = 'ann@acme.test'`);
    await db.pool.query(`update hubspot.companies set numberofemployees = 41 where name = 'Acme'`);
    await db.pool.query(`delete from hubspot.deals where dealname = 'Big deal'`);
    await drained(db.pool);
    expect(((await sim.control.getRecord("contacts", ann.id)) as { properties: Record<string, string> }).properties.firstname).toBe("Annie");
    expect(((await sim.control.getRecord("companies", company.id)) as { properties: Record<string, string> }).properties.numberofemployees).toBe("41");
    expect(((await sim.control.getRecord("deals", deal.id)) as { archived?: boolean }).archived).toBe(true);
    expect(calls(await requestsSince(since2)).sort()).toEqual([
      "POST /crm/objects/2026-09/companies/batch/update",
      "POST /crm/objects/2026-09/contacts/batch/update",
      "POST /crm/objects/2026-09/deals/batch/archive",
      // HubSpot answers an archive of a merged-away id as done: one read tells whether it was
      "POST /crm/objects/2026-09/deals/batch/read",
    ]);
    const outbox = await one<{ sent: number; other: number }>(
      `select count(*) filter (where status = 'sent')::int as sent, count(*) filter (where status not in ('sent', 'superseded'))::int as other from hubsync.outbox`,
    );
    expect(outbox.other).toBe(0);
  });

  it("creates and removes associations, including ones between records created in the same transaction", async () => {
    const company = await one<{ id: string }>(`select id from hubspot.companies where name = 'Acme'`);
    const bob = await one<{ id: string }>(`select id from hubspot.contacts where email = 'bob@acme.test'`);
    await db.pool.query(`insert into hubspot.associations_company_contact (company_id, contact_id) values ($1, $2)`, [company.id, bob.id]);
    // Both ends new: the association row names them by _sync_local_id.
    const since = Date.now();
    const c = await db.pool.connect();
    await c.query("begin");
    const newCo = (await c.query(`insert into hubspot.companies (name) values ('Newco') returning _sync_local_id::text as l`)).rows[0].l;
    const newCt = (await c.query(`insert into hubspot.contacts (email) values ('new@newco.test') returning _sync_local_id::text as l`)).rows[0].l;
    await c.query(`insert into hubspot.associations_company_contact (company_id, contact_id, type_ids) values ($1, $2, '{2}')`, [newCo, newCt]);
    await c.query("commit");
    c.release();
    await drained(db.pool);
    // Dependency order: the company is created before the contact, then the association.
    const order = calls(await requestsSince(since)).filter((x) => /batch\/(upsert|create)/.test(x));
    expect(order).toEqual([
      "POST /crm/objects/2026-09/companies/batch/upsert",
      "POST /crm/objects/2026-09/contacts/batch/upsert",
      "POST /crm/associations/2026-09/companies/contacts/batch/create",
    ]);
    const ids = await one<{ co: string; ct: string }>(
      `select (select id from hubspot.companies where name = 'Newco') as co, (select id from hubspot.contacts where email = 'new@newco.test') as ct`,
    );
    const row = await one<{ company_id: string; contact_id: string }>(
      `select company_id, contact_id from hubspot.associations_company_contact where company_id = $1`,
      [ids.co],
    );
    expect(row).toEqual({ company_id: ids.co, contact_id: ids.ct });
    const pairs = JSON.stringify(await sim.control.listAssociations("companies", "contacts"));
    expect(pairs).toContain(bob.id);
    expect(pairs).toContain(ids.ct);

    // Relabel: the pair gets exactly the row's type ids (2 = primary company → contact).
    await db.pool.query(`update hubspot.associations_company_contact set type_ids = '{2,280}' where contact_id = $1`, [bob.id]);
    await drained(db.pool);
    const relabelled = (await sim.control.listAssociations("companies", "contacts")).find((a) => String(a.toId) === bob.id);
    expect(JSON.stringify(relabelled)).toMatch(/"typeId":2\b/);
    await db.pool.query(`update hubspot.associations_company_contact set type_ids = '{280}' where contact_id = $1`, [bob.id]);
    await drained(db.pool);
    const unlabelled = (await sim.control.listAssociations("companies", "contacts")).find((a) => String(a.toId) === bob.id);
    expect(JSON.stringify(unlabelled)).not.toMatch(/"typeId":2\b/);
    expect(JSON.stringify(unlabelled)).toMatch(/"typeId":280\b/);

    await db.pool.query(`delete from hubspot.associations_company_contact where contact_id = $1`, [bob.id]);
    await drained(db.pool);
    expect(JSON.stringify(await sim.control.listAssociations("companies", "contacts"))).not.toContain(`"${bob.id}"`);
  });

  it("a hubspot_writer role that owns nothing writes, and its change reaches HubSpot", async () => {
    const role = `writer_${Math.random().toString(36).slice(2, 8)}`;
    await db.pool.query(`create role ${role} login password 'pw' in role hubspot_writer`);
    const url = new URL(db.url);
    url.username = role;
    url.password = "pw";
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    try {
      await c.query(`insert into hubspot.contacts (email, firstname) values ('writer@acme.test', 'Wri')`);
      await expect(c.query(`select count(*) from hubsync.outbox`)).rejects.toThrow(/permission denied/);
    } finally {
      await c.end();
    }
    await drained(db.pool);
    const row = await one<{ id: string }>(`select id from hubspot.contacts where email = 'writer@acme.test'`);
    expect(((await sim.control.getRecord("contacts", row.id)) as { properties: Record<string, string> }).properties.firstname).toBe("Wri");
    await db.pool.query(`drop owned by ${role}; drop role ${role}`);
  });

  it("sends nothing for a rolled-back transaction", async () => {
    const since = Date.now();
    const c = await db.pool.connect();
    await c.query("begin");
    await c.query(`insert into hubspot.contacts (email) values ('ghost@acme.test')`);
    await c.query(`update hubspot.contacts set lastname = 'Ghost'`);
    await c.query("rollback");
    c.release();
    await new Promise((r) => setTimeout(r, 800));
    expect(await requestsSince(since)).toEqual([]);
    expect((await one<{ n: number }>(`select count(*)::int as n from hubsync.outbox where status = 'pending'`)).n).toBe(0);
  });

  it("the pull that follows a push does not push again", async () => {
    await drained(db.pool);
    const before = (await one<{ n: number }>(`select count(*)::int as n from hubsync.outbox`)).n;
    const since = Date.now();
    const cycle = await cycleObject(ctx, "contacts");
    expect(cycle.error).toBeUndefined();
    await new Promise((r) => setTimeout(r, 500));
    expect((await one<{ n: number }>(`select count(*)::int as n from hubsync.outbox`)).n).toBe(before);
    expect(calls(await requestsSince(since)).filter((c) => /batch\/(upsert|update|archive|create)/.test(c))).toEqual([]);
    expect((await one<{ n: number }>(`select count(*)::int as n from hubsync.conflicts`)).n).toBe(0);
  });

  it("a pulled change meeting a pending local change is settled by the table's policy and recorded (real pull)", async () => {
    await worker.stop();
    const ann = await one<{ id: string }>(`select id from hubspot.contacts where email = 'ann@acme.test'`);
    try {
      await db.pool.query(`update hubsync.objects set conflict_policy = 'postgres_wins' where object_type = 'contacts'`);
      await db.pool.query(`update hubspot.contacts set firstname = 'Local Ann' where id = $1`, [ann.id]);
      await sim.control.updateRecord("contacts", ann.id, { firstname: "Remote Ann" });
      const cycle = await cycleObject(ctx, "contacts");
      expect(cycle.error).toBeUndefined();
      expect((await one<{ firstname: string }>(`select firstname from hubspot.contacts where id = $1`, [ann.id])).firstname).toBe("Local Ann");
      expect(await one(`select property, local_value, hubspot_value, base_value, policy, winner from hubsync.conflicts where record_id = $1`, [ann.id])).toEqual({
        property: "firstname",
        local_value: "Local Ann",
        hubspot_value: "Remote Ann",
        base_value: "Annie",
        policy: "postgres_wins",
        winner: "postgres",
      });
    } finally {
      await db.pool.query(`update hubsync.objects set conflict_policy = 'hubspot_wins' where object_type = 'contacts'`);
      worker = await startPushWorker(ctx);
    }
    await db.pool.query(`select hubsync._wake_push('contacts')`);
    await drained(db.pool);
    expect(((await sim.control.getRecord("contacts", ann.id)) as { properties: Record<string, string> }).properties.firstname).toBe("Local Ann");
  });

  it("sends the 99 good records of a batch with one invalid email, stores the error, and sends the fixed one", async () => {
    const values = Array.from({ length: 100 }, (_, i) => (i === 37 ? "('not-an-email', 'bad')" : `('bulk${i}@acme.test', 'bulk')`));
    await db.pool.query(`insert into hubspot.contacts (email, lastname) values ${values.join(", ")}`);
    await drained(db.pool);
    const sent = await one<{ n: number }>(`select count(*)::int as n from hubspot.contacts where lastname = 'bulk' and id is not null`);
    expect(sent.n).toBe(99);
    const bad = await one<{ id: string | null; _sync_error: string }>(`select id, _sync_error from hubspot.contacts where lastname = 'bad'`);
    expect(bad.id).toBeNull();
    expect(bad._sync_error).toMatch(/VALIDATION|INVALID|email/i);
    const rejected = await one<Record<string, unknown>>(
      `select status, error_category, error_message, error_correlation_id from hubsync.outbox where status = 'rejected'`,
    );
    expect(rejected).toMatchObject({ status: "rejected", error_category: expect.any(String), error_message: expect.stringMatching(/email/i) });
    const status = await one<{ rejected: number }>(`select rejected::int from hubsync.status where object_type = 'contacts'`);
    expect(status.rejected).toBe(1);
    const remote = (await sim.control.listRecords("contacts")) as Array<{ properties: Record<string, string> }>;
    expect(remote.filter((r) => r.properties.lastname === "bulk")).toHaveLength(99);

    // The fix is a local change: the rejected create goes again with it.
    await db.pool.query(`update hubspot.contacts set email = 'fixed@acme.test' where lastname = 'bad'`);
    await drained(db.pool);
    const fixed = await one<{ id: string | null; _sync_error: string | null }>(`select id, _sync_error from hubspot.contacts where lastname = 'bad'`);
    expect(fixed).toEqual({ id: expect.stringMatching(/^\d+$/), _sync_error: null });
    expect((await one<{ n: number }>(`select count(*)::int as n from hubsync.outbox where status = 'rejected'`)).n).toBe(0);
  });

  it("a writer's open transaction does not block another writer's change, which is pushed meanwhile", async () => {
    const a = await db.pool.connect();
    await a.query("begin");
    await a.query(`update hubspot.contacts set lastname = 'A-open' where email = 'bulk2@acme.test'`);
    try {
      // Blocking could only be a wait for a lock A holds (the outbox's or the push job's): B gives
      // up on a lock wait after 10 s rather than hanging until A ends, which here it never does.
      const other = await db.pool.connect();
      try {
        await other.query("begin");
        await other.query("set local lock_timeout = '10s'");
        await other.query(`update hubspot.contacts set lastname = 'B-done' where email = 'bulk1@acme.test'`);
        await other.query("commit");
      } finally {
        other.release();
      }
      await drained(db.pool, 30_000);
      const b = await one<{ id: string }>(`select id from hubspot.contacts where email = 'bulk1@acme.test'`);
      expect(((await sim.control.getRecord("contacts", b.id)) as { properties: Record<string, string> }).properties.lastname).toBe("B-done");
    } finally {
      await a.query("rollback");
      a.release();
    }
  });

  it("on_reject = 'revert' puts the row back to its previous values after a rejected update", async () => {
    await db.pool.query(`update hubsync.objects set on_reject = 'revert' where object_type = 'contacts'`);
    try {
      await db.pool.query(`update hubspot.contacts set email = 'broken', firstname = 'Bobby' where email = 'bob@acme.test'`);
      await drained(db.pool);
      const row = await one(`select email, firstname, _sync_error from hubspot.contacts where id = (select id from hubspot.contacts where email = 'bob@acme.test')`);
      expect(row).toMatchObject({ email: "bob@acme.test", firstname: "Bob", _sync_error: expect.stringMatching(/email/i) });
      const rejected = await one<{ n: number }>(`select count(*)::int as n from hubsync.outbox where status = 'rejected' and changes ->> 'email' = 'broken'`);
      expect(rejected.n).toBe(1);
    } finally {
      await db.pool.query(`update hubsync.objects set on_reject = 'keep_local' where object_type = 'contacts'`);
      await db.pool.query(`update hubsync.outbox set status = 'superseded' where status = 'rejected'`);
    }
  });

  it("retry_rejected sends a rejected change again after the portal was fixed", async () => {
    await db.pool.query(`insert into hubspot.contacts (email, hs_lead_status) values ('lead@acme.test', 'HOT_LEAD')`);
    await drained(db.pool);
    expect((await one<{ status: string }>(`select status from hubsync.outbox where changes ->> 'email' = 'lead@acme.test'`)).status).toBe("rejected");
    await sim.control.deleteProperty("contacts", "hs_lead_status");
    await sim.control.createProperty("contacts", {
      name: "hs_lead_status",
      label: "Lead Status",
      type: "enumeration",
      fieldType: "select",
      groupName: "contactinformation",
      options: [
        { label: "New", value: "NEW" },
        { label: "Hot", value: "HOT_LEAD" },
      ],
    } as never);
    expect((await one<{ n: number }>(`select hubsync.retry_rejected('contacts') as n`)).n).toBe(1);
    await drained(db.pool);
    const row = await one<{ id: string | null }>(`select id from hubspot.contacts where email = 'lead@acme.test'`);
    expect(row.id).toMatch(/^\d+$/);
  });

  it("dry run prints the calls and the changes HubSpot would reject, and sends nothing", async () => {
    await worker.stop();
    try {
      await db.pool.query(`insert into hubspot.contacts (email, hs_lead_status) values ('dry@acme.test', 'NOPE'), ('dry2@acme.test', 'NEW')`);
      await db.pool.query(`update hubspot.companies set numberofemployees = 42 where name = 'Acme'`);
      await db.pool.query(`update hubspot.contacts set properties = properties || '{"hs_analytics_num_visits": "7"}' where email = 'bob@acme.test'`);
      const since = Date.now();
      const plan = await planPush(db.pool, hubspot);
      const text = renderDryRun(plan);
      expect(text).toContain("POST /crm/objects/2026-09/companies/batch/update  1 input(s)");
      expect(text).toContain("POST /crm/objects/2026-09/contacts/batch/upsert  1 input(s)");
      expect(text).toMatch(/hs_lead_status = "NOPE" — INVALID_OPTION/);
      // a read-only property written into properties jsonb was refused when written: never queued, never sent
      expect(text).not.toContain("hs_analytics_num_visits");
      expect(await one(`select status, changes, error_category from hubsync.outbox where changes ? 'hs_analytics_num_visits'`)).toEqual({
        status: "rejected",
        changes: { hs_analytics_num_visits: "7" },
        error_category: "READ_ONLY_VALUE",
      });
      const cli = await hubsyncCli("push", "--dry-run", "contacts");
      expect(cli.status).toBe(0);
      expect(cli.stdout).toContain("POST /crm/objects/2026-09/contacts/batch/upsert  1 input(s)");
      expect(cli.stdout).toContain("dry run: nothing was sent");
      const made = await requestsSince(since);
      expect(made.length).toBeGreaterThan(0);
      expect(made.every((r) => r.method === "GET")).toBe(true);
      expect((await one<{ n: number }>(`select count(*)::int as n from hubsync.outbox where status = 'pending'`)).n).toBe(3);

      // `hubsync push` sends them now, without a worker, and says what happened.
      const sent = await hubsyncCli("push");
      expect(sent.stdout).toMatch(/companies\s+1 sent, 0 rejected/);
      expect(sent.stdout).toMatch(/contacts\s+1 sent, 1 rejected/);
      expect(sent.status).toBe(1); // something was rejected
      await drained(db.pool, 1000);
    } finally {
      worker = await startPushWorker(ctx);
    }
  });
});
