import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { randomBytes } from "node:crypto";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { runCli } from "./support/cli.ts";
import { COMPANY_COLUMNS, CONTACT_COLUMNS, makeObjectTable } from "./support/push.ts";

/**
 * The three roles install creates, exercised through real logins: what a reader, a writer and an
 * admin can and cannot do, and a catalog check over every function hubsync defines.
 */

let db: TestDatabase;
const suffix = randomBytes(3).toString("hex");
const logins = { reader: `harden_reader_${suffix}`, writer: `harden_writer_${suffix}`, admin: `harden_admin_${suffix}` };
const pools: Record<string, pg.Pool> = {};

function urlAs(user: string): string {
  const u = new URL(db.url);
  u.username = user;
  u.password = "pw";
  return u.toString();
}

async function denied(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: string; message: string };
    expect(e.code, e.message).toBe("42501"); // insufficient_privilege
    return e.message;
  }
  throw new Error("expected permission denied, but it succeeded");
}

beforeAll(async () => {
  db = await installedDatabase("security_roles");
  await makeObjectTable(db.pool, "contacts", "contact", CONTACT_COLUMNS, { writeBack: true });
  await makeObjectTable(db.pool, "companies", "company", COMPANY_COLUMNS, { writeBack: false });
  await db.pool.query(`insert into hubspot.companies (id, name) values ('1', 'Acme')`);
  await db.pool.query(`select set_config('hubsync.applying', 'on', false)`);
  const c = await db.pool.connect();
  try {
    await c.query(`select set_config('hubsync.applying', 'on', false)`);
    await c.query(`insert into hubspot.contacts (id, email, _sync_local_id) values ('100', 'pulled@example.com', gen_random_uuid())`);
  } finally {
    c.release();
  }
  await db.pool.query(`create role ${logins.reader} login password 'pw' in role hubspot_reader`);
  await db.pool.query(`create role ${logins.writer} login password 'pw' in role hubspot_writer`);
  await db.pool.query(`create role ${logins.admin} login password 'pw' in role hubsync_admin`);
  for (const [k, name] of Object.entries(logins)) {
    pools[k] = new pg.Pool({ connectionString: urlAs(name), max: 1 });
    pools[k].on("error", () => {});
  }
});

afterAll(async () => {
  for (const p of Object.values(pools)) await p.end();
  await db?.drop();
  const admin = new pg.Client({ connectionString: db.url.replace(/\/[^/]*$/, "/postgres") });
  await admin.connect();
  for (const name of Object.values(logins)) await admin.query(`drop role if exists ${name}`);
  await admin.end();
});

describe("hubspot_reader", () => {
  it("reads hubspot.* and hubsync.status", async () => {
    const r = pools.reader!;
    expect((await r.query(`select count(*)::int as n from hubspot.contacts`)).rows[0].n).toBe(1);
    const status = await r.query(`select object_type, rows::int from hubsync.status order by 1`);
    expect(status.rows).toEqual([
      { object_type: "companies", rows: 1 },
      { object_type: "contacts", rows: 1 },
    ]);
    await r.query(`select * from hubsync.association_status`);
    await r.query(`select * from hubsync.webhook_status`);
    // and `hubsync status`, run as an analyst's login
    const cli = await runCli(["status"], { DATABASE_URL: urlAs(logins.reader) });
    expect(cli.stderr).toBe("");
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/contacts\s+yes/);
  });

  it("cannot write hubspot.*, read the outbox, conflicts, runs or rate budget, or change configuration", async () => {
    const r = pools.reader!;
    await denied(r.query(`insert into hubspot.contacts (email) values ('x@example.com')`));
    await denied(r.query(`update hubspot.contacts set email = 'y@example.com'`));
    await denied(r.query(`delete from hubspot.companies`));
    for (const t of ["outbox", "conflicts", "runs", "rate_budget", "objects", "cursors", "columns"]) await denied(r.query(`select * from hubsync.${t}`));
    await denied(r.query(`select hubsync.enable_sync('deals')`));
    await denied(r.query(`select hubsync.disable_sync('contacts')`));
    await denied(r.query(`select hubsync.retry_rejected()`));
    await denied(r.query(`select hubsync.rate_pause('auth', now() + interval '1 day', 'x')`));
    await denied(r.query(`select hubsync_worker.add_job('hubsync_pull_all', '{}'::json)`));
  });
});

describe("hubspot_writer", () => {
  it("writes write-back tables (the change reaches the outbox) but no other table", async () => {
    const w = pools.writer!;
    await w.query(`insert into hubspot.contacts (email, firstname) values ('written@example.com', 'W')`);
    await w.query(`update hubspot.contacts set firstname = 'Changed' where email = 'pulled@example.com'`);
    await w.query(`delete from hubspot.contacts where email = 'written@example.com'`);
    const outbox = await db.pool.query(`select op from hubsync.outbox where object_type = 'contacts' order by id`);
    expect(outbox.rows.map((r) => r.op)).toEqual(expect.arrayContaining(["create", "update"]));
    await denied(w.query(`insert into hubspot.companies (name) values ('Not write-back')`));
    await denied(w.query(`update hubspot.companies set name = 'x'`));
  });

  it("cannot change configuration or touch the outbox directly", async () => {
    const w = pools.writer!;
    await denied(w.query(`select hubsync.enable_sync('deals')`));
    await denied(w.query(`select hubsync.disable_sync('contacts')`));
    await denied(w.query(`select hubsync.enable_write_back('companies')`));
    await denied(w.query(`select hubsync.disable_write_back('contacts')`));
    await denied(w.query(`select hubsync.resync('contacts')`));
    await denied(w.query(`select hubsync.retry_rejected('contacts')`));
    await denied(w.query(`update hubsync.objects set write_back = true where object_type = 'companies'`));
    await denied(w.query(`update hubsync.objects set conflict_policy = 'postgres_wins'`));
    await denied(w.query(`insert into hubsync.outbox (object_type, op) values ('contacts', 'create')`));
    await denied(w.query(`select * from hubsync.outbox`));
    await denied(w.query(`update hubsync.outbox set status = 'sent'`));
    await denied(w.query(`select hubsync._push_write_back('contacts', '[]'::jsonb)`));
    await denied(w.query(`select hubsync._refresh_write_back('companies')`));
    await denied(w.query(`select hubsync._wake_push('contacts', null)`));
    // nor get around the triggers that make a change reach HubSpot (and the outbox)
    await denied(w.query(`truncate hubspot.contacts`));
    await denied(w.query(`alter table hubspot.contacts disable trigger all`));
    await denied(w.query(`drop table hubspot.contacts`));
    await denied(w.query(`select set_config('hubsync.applying', 'on', false); update hubspot.companies set name = 'x'`));
  });
});

describe("hubsync_admin", () => {
  it("configures through the SQL API and reads the control tables", async () => {
    const a = pools.admin!;
    expect((await a.query(`select hubsync.enable_sync('deals') as r`)).rows[0].r).toContain("deals");
    await a.query(`select * from hubsync.outbox`);
    await a.query(`select * from hubsync.status`);
    await a.query(`select hubsync.disable_sync('deals')`);
  });
});

describe("the function catalog", () => {
  it("every SECURITY DEFINER function has a fixed search_path and is not executable by PUBLIC, readers or writers", async () => {
    const { rows } = await db.pool.query<{ fn: string; config: string[] | null; trigger: boolean; public_exec: boolean; reader: boolean; writer: boolean }>(
      `select p.oid::regprocedure::text as fn, p.proconfig as config, p.prorettype = 'trigger'::regtype as trigger,
              exists (select from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a where a.grantee = 0 and a.privilege_type = 'EXECUTE') as public_exec,
              has_function_privilege('hubspot_reader', p.oid, 'EXECUTE') as reader,
              has_function_privilege('hubspot_writer', p.oid, 'EXECUTE') as writer
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname in ('hubsync', 'hubspot') and p.prosecdef
        order by 1`,
    );
    expect(rows.length).toBeGreaterThan(10);
    const problems: string[] = [];
    // the status views count rows through this one; it reads only hubspot.* tables, which readers may read
    const readable = new Set(["hubsync._row_count(text)"]);
    for (const r of rows) {
      const path = (r.config ?? []).find((c) => c.startsWith("search_path="));
      if (!path) problems.push(`${r.fn}: no fixed search_path`);
      else if (/\$user|public/.test(path)) problems.push(`${r.fn}: search_path includes a schema others can write (${path})`);
      if (!r.trigger && r.public_exec) problems.push(`${r.fn}: executable by PUBLIC`);
      if (!r.trigger && !readable.has(r.fn) && (r.reader || r.writer)) problems.push(`${r.fn}: executable by hubspot_reader/hubspot_writer`);
    }
    expect(problems).toEqual([]);
  });

  it("the configuration API is granted to hubsync_admin only", async () => {
    const api = [
      "hubsync.enable_sync(text,text[],boolean,timestamptz)",
      "hubsync.disable_sync(text)",
      "hubsync.resync(text)",
      "hubsync.resync(text,timestamptz)",
      "hubsync.refresh(text,text[])",
      "hubsync.enable_write_back(text)",
      "hubsync.disable_write_back(text)",
      "hubsync.retry_rejected(text)",
    ];
    for (const fn of api) {
      const { rows } = await db.pool.query(
        `select has_function_privilege('hubsync_admin', $1, 'EXECUTE') as admin, has_function_privilege('hubspot_writer', $1, 'EXECUTE') as writer,
                has_function_privilege('hubspot_reader', $1, 'EXECUTE') as reader`,
        [fn],
      );
      expect({ fn, ...rows[0] }).toEqual({ fn, admin: true, writer: false, reader: false });
    }
  });
});
