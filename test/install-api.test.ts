import { describe, it, expect, beforeAll, afterAll } from "vitest";
import pg from "pg";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { installedDatabase, type TestDatabase } from "./support/database.ts";

// The SQL API as a DBA uses it, against a real PostgreSQL with hubsync installed.
let d: TestDatabase;
beforeAll(async () => {
  d = await installedDatabase("api");
});
afterAll(async () => {
  await d?.drop();
});

const q = async (sql: string, params: unknown[] = []) => (await d.pool.query(sql, params)).rows;

async function jobs(): Promise<{ task: string; key: string; payload: unknown }[]> {
  return q(`select t.identifier as task, j.key, j.payload
              from hubsync_worker._private_jobs j join hubsync_worker._private_tasks t on t.id = j.task_id
             order by j.id`);
}

async function errorOf(sql: string): Promise<{ message: string; hint?: string }> {
  try {
    await d.pool.query(sql);
  } catch (err) {
    const e = err as pg.DatabaseError;
    return { message: e.message, hint: e.hint };
  }
  throw new Error(`expected an error from: ${sql}`);
}

/** A connection as a fresh login role, optionally member of some roles. */
async function asRole(name: string, memberOf: string[], fn: (c: pg.Client) => Promise<void>) {
  const role = `${name}_${d.name}`;
  await d.pool.query(`create role ${role} login password 'pw'${memberOf.length ? ` in role ${memberOf.join(", ")}` : ""}`);
  const url = new URL(d.url);
  url.username = role;
  url.password = "pw";
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  try {
    await fn(c);
  } finally {
    await c.end();
    await d.pool.query(`drop owned by ${role}; drop role ${role}`);
  }
}

describe("a DBA's session with the SQL API, step 1 of 4 (the steps build on each other): hubsync.enable_sync", () => {
  it("records the object type and queues its discovery, once however often it is called", async () => {
    const [{ msg }] = await q("select hubsync.enable_sync('contacts') as msg");
    expect(msg).toBe("contacts: enabled; discovery queued");
    expect(await q("select object_type, kind, enabled, phase, properties, write_back from hubsync.objects")).toEqual([
      { object_type: "contacts", kind: "crm", enabled: true, phase: "discovering", properties: null, write_back: false },
    ]);
    expect(await jobs()).toEqual([{ task: "hubsync_discover", key: "hubsync_discover:contacts", payload: { objectType: "contacts" } }]);

    // Re-enabling changes the configuration and re-discovers; still one job.
    const [{ msg: again }] = await q("select hubsync.enable_sync('contacts', array['email', 'firstname', 'email']) as msg");
    expect(again).toBe("contacts: configuration updated; discovery queued");
    expect(await q("select properties from hubsync.objects where object_type = 'contacts'")).toEqual([{ properties: ["email", "firstname"] }]);
    expect((await jobs()).filter((j) => j.task === "hubsync_discover")).toHaveLength(1);
  });

  it("accepts every standard type, owners, pipelines and custom object names", async () => {
    await q("select hubsync.enable_sync('line_items'), hubsync.enable_sync('postal_mail'), hubsync.enable_sync('owners'), hubsync.enable_sync('pipelines'), hubsync.enable_sync('cars')");
    expect(await q("select object_type, kind from hubsync.objects where object_type in ('line_items','postal_mail','owners','pipelines','cars') order by 1")).toEqual([
      { object_type: "cars", kind: "crm" },
      { object_type: "line_items", kind: "crm" },
      { object_type: "owners", kind: "owners" },
      { object_type: "pipelines", kind: "pipelines" },
      { object_type: "postal_mail", kind: "crm" },
    ]);
  });

  it("rejects bad input with errors that say what to do instead", async () => {
    expect(await errorOf("select hubsync.enable_sync('contact')")).toMatchObject({ message: "hubsync: unknown object type 'contact'", hint: expect.stringContaining("Did you mean 'contacts'?") });
    expect(await errorOf("select hubsync.enable_sync('Companies')")).toMatchObject({ hint: expect.stringContaining("'companies'") });
    expect(await errorOf("select hubsync.enable_sync('0-3')")).toMatchObject({ hint: expect.stringContaining("'deals'") });
    expect(await errorOf("select hubsync.enable_sync('2-1234')")).toMatchObject({ message: expect.stringContaining("custom object type id") });
    expect(await errorOf("select hubsync.enable_sync('my cars')")).toMatchObject({ message: "hubsync: 'my cars' is not a valid object type name", hint: expect.stringContaining("contacts, companies") });
    expect(await errorOf("select hubsync.enable_sync(null)")).toMatchObject({ message: "hubsync: object_type is required" });
    expect(await errorOf("select hubsync.enable_sync('deals', array[]::text[])")).toMatchObject({ message: "hubsync: empty property list for deals", hint: expect.stringContaining("null") });
    expect(await errorOf("select hubsync.enable_sync('deals', array['amount', null])")).toMatchObject({ message: expect.stringContaining("null or empty name") });
    expect(await errorOf("select hubsync.enable_sync('owners', array['email'])")).toMatchObject({ message: expect.stringContaining("fixed shape") });
    expect(await errorOf("select hubsync.enable_sync('owners', write_back => true)")).toMatchObject({ message: expect.stringContaining("read-only") });
    // Nothing was recorded by the failed calls.
    expect(await q("select count(*)::int as n from hubsync.objects where object_type in ('contact','deals','2-1234')")).toEqual([{ n: 0 }]);
  });
});

describe("a DBA's session, step 2 of 4: disable_sync, resync and write-back", () => {
  it("disable_sync keeps the data, drops queued pulls and says so; enable_sync brings it back", async () => {
    await q("select hubsync.enable_sync('tickets')");
    await q("create table hubspot.tickets (id text unique, subject text, properties jsonb, created_at timestamptz, updated_at timestamptz, archived_at timestamptz, _sync_hash text, _sync_inserted_at timestamptz, _sync_updated_at timestamptz)");
    await q("insert into hubspot.tickets (id, subject) values ('1', 'a'), ('2', 'b')");
    await q("update hubsync.objects set table_name = 'tickets', phase = 'live' where object_type = 'tickets'");
    await q("select hubsync_worker.add_job('hubsync_pull', '{\"objectType\":\"tickets\"}', job_key := 'hubsync_pull:tickets')");

    const [{ msg }] = await q("select hubsync.disable_sync('tickets') as msg");
    expect(msg).toBe("tickets: disabled; the data in hubspot.tickets is kept");
    expect(await q("select enabled, phase from hubsync.objects where object_type = 'tickets'")).toEqual([{ enabled: false, phase: "disabled" }]);
    expect((await jobs()).filter((j) => j.key?.endsWith(":tickets"))).toEqual([]);
    expect(await q("select count(*)::int as n from hubspot.tickets")).toEqual([{ n: 2 }]);
    expect(await q("select hubsync.disable_sync('tickets') as msg")).toEqual([{ msg: "tickets: already disabled" }]);
    expect(await errorOf("select hubsync.resync('tickets')")).toMatchObject({ message: "hubsync: tickets is disabled" });

    expect(await q("select hubsync.enable_sync('tickets') as msg")).toEqual([{ msg: "tickets: re-enabled; discovery queued" }]);
    expect(await errorOf("select hubsync.disable_sync('quotes')")).toMatchObject({
      message: "hubsync: quotes has never been enabled",
      hint: "Enable it first: select hubsync.enable_sync('quotes');",
    });
  });

  it("resync forgets the cursors and queues a backfill, or a discovery when there is no table yet", async () => {
    await q("insert into hubsync.cursors (object_type, stream, state) values ('tickets', 'incremental', '{\"since\":1}'), ('tickets', 'backfill', '{\"after\":\"9\"}'), ('contacts', 'incremental', '{}')");
    expect(await q("select hubsync.resync('tickets') as msg")).toEqual([{ msg: "tickets: cursors cleared; full backfill queued" }]);
    expect(await q("select object_type from hubsync.cursors")).toEqual([{ object_type: "contacts" }]);
    expect(await q("select phase from hubsync.objects where object_type = 'tickets'")).toEqual([{ phase: "backfilling" }]);
    expect((await jobs()).filter((j) => j.task === "hubsync_backfill")).toEqual([
      { task: "hubsync_backfill", key: "hubsync_backfill:tickets", payload: { objectType: "tickets" } },
    ]);
    expect(await q("select hubsync.resync('cars') as msg")).toEqual([{ msg: "cars: never discovered; discovery queued, the backfill follows" }]);
  });

  it("enable_write_back lets hubspot_writer change the table; disable_write_back takes it away", async () => {
    const can = async () => (await q("select has_table_privilege('hubspot_writer', 'hubspot.tickets', 'insert') as ok"))[0].ok;
    expect(await can()).toBe(false);
    expect(await q("select hubsync.enable_write_back('tickets') as msg")).toEqual([
      { msg: "tickets: write-back on; inserts, updates and deletes in hubspot.tickets go to HubSpot" },
    ]);
    expect(await q("select write_back from hubsync.objects where object_type = 'tickets'")).toEqual([{ write_back: true }]);
    expect(await can()).toBe(true);
    expect(await q("select hubsync.disable_write_back('tickets') as msg")).toEqual([
      { msg: "tickets: write-back off; local changes are no longer sent (queued ones stay in hubsync.outbox)" },
    ]);
    expect(await can()).toBe(false);
    expect(await errorOf("select hubsync.enable_write_back('owners')")).toMatchObject({ message: expect.stringContaining("read-only") });
  });
});

describe("a DBA's session, step 3 of 4: permissions", () => {
  it("an ordinary login role granted hubsync_admin can run the API and read the status; others cannot", async () => {
    await asRole("dba", ["hubsync_admin"], async (c) => {
      const { rows } = await c.query("select hubsync.enable_sync('deals') as msg");
      expect(rows[0].msg).toBe("deals: enabled; discovery queued");
      const status = await c.query("select object_type, phase from hubsync.status where object_type = 'deals'");
      expect(status.rows).toEqual([{ object_type: "deals", phase: "discovering" }]);
      await expect(c.query("select * from hubsync_worker.jobs")).rejects.toThrow(/permission denied/);
    });
    await asRole("nobody", [], async (c) => {
      await expect(c.query("select hubsync.enable_sync('deals')")).rejects.toThrow(/permission denied/);
      await expect(c.query("select * from hubsync.status")).rejects.toThrow(/permission denied/);
    });
  });
});

describe("a DBA's session, step 4 of 4: hubsync.status of the types above", () => {
  it("shows per object type its phase, rows, lag, outbox counts and last error", async () => {
    await q("update hubsync.objects set last_pull_at = now() - interval '90 seconds', last_error = 'HubSpot 502', last_error_at = now() where object_type = 'tickets'");
    await q(`insert into hubsync.outbox (object_type, op, status) values
               ('tickets', 'update', 'pending'), ('tickets', 'update', 'in_flight'), ('tickets', 'create', 'rejected'), ('tickets', 'update', 'sent')`);
    const [row] = await q("select *, extract(epoch from lag)::int as lag_s from hubsync.status where object_type = 'tickets'");
    expect(row).toMatchObject({ object_type: "tickets", enabled: true, write_back: false, rows: "2", pending: "2", rejected: "1", last_error: "HubSpot 502" });
    expect(row.lag_s).toBeGreaterThanOrEqual(90);
    const [cars] = await q("select rows, last_pull_at, lag, pending from hubsync.status where object_type = 'cars'");
    expect(cars).toEqual({ rows: null, last_pull_at: null, lag: null, pending: "0" });
  });

  it("`hubsync status` prints it as an aligned table", async () => {
    // The same tickets row as above, set again here: the lag and the error's age are read back
    // within the seconds this test takes, however long that is.
    const started = Date.now();
    await q("update hubsync.objects set last_pull_at = now() - interval '90 seconds', last_error = 'HubSpot 502', last_error_at = now() where object_type = 'tickets'");
    const { stdout } = await promisify(execFile)(process.execPath, ["src/cli/hubsync.ts", "status"], {
      cwd: new URL("../", import.meta.url).pathname,
      env: { ...process.env, DATABASE_URL: d.url },
    });
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^OBJECT\s+ENABLED\s+WRITE-BACK\s+PHASE\s+ROWS\s+LAST PULL \(UTC\)\s+LAG\s+PENDING\s+REJECTED\s+LAST ERROR$/);
    const elapsed = Math.ceil((Date.now() - started) / 1000) + 1;
    const tickets = lines.find((l) => l.startsWith("tickets"));
    const m = /^tickets\s+yes\s+off\s+backfilling\s+2\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+(\d+)m (\d\d)s\s+2\s+1\s+HubSpot 502 \((\d+)s ago\)$/.exec(tickets ?? "");
    expect(m, tickets).not.toBeNull();
    const [lagMin, lagSec, ago] = m!.slice(1).map(Number) as [number, number, number];
    expect(lagMin * 60 + lagSec).toBeGreaterThanOrEqual(90);
    expect(lagMin * 60 + lagSec).toBeLessThanOrEqual(90 + elapsed);
    expect(ago).toBeLessThanOrEqual(elapsed);
    expect(lines.find((l) => l.startsWith("cars"))).toMatch(/^cars\s+yes\s+off\s+discovering\s+-\s+never\s+-\s+0\s+0$/);
    // Columns line up: every row has ROWS ending where the header's ROWS ends.
    const table = lines.slice(0, lines.indexOf(""));
    const rowsEnd = lines[0]!.indexOf("ROWS") + 4;
    for (const l of table.slice(1)) expect(l.slice(rowsEnd - 1, rowsEnd)).toMatch(/\S/);
  });

  it("says which enabled types get real-time changes (HubSpot sends webhooks for them) and which wait for the pull", async () => {
    const changes = await q("select object_type, changes from hubsync.status where enabled and object_type in ('contacts', 'line_items', 'postal_mail', 'cars', 'owners') order by 1");
    expect(changes).toEqual([
      { object_type: "cars", changes: "pull" },
      { object_type: "contacts", changes: "webhooks" },
      { object_type: "line_items", changes: "webhooks" },
      { object_type: "owners", changes: "pull" },
      { object_type: "postal_mail", changes: "pull" },
    ]);
    const status = async () =>
      (await promisify(execFile)(process.execPath, ["src/cli/hubsync.ts", "status"], { cwd: new URL("../", import.meta.url).pathname, env: { ...process.env, DATABASE_URL: d.url } })).stdout;
    const enabled = await q("select object_type, changes from hubsync.status where enabled order by 1");
    const names = (kind: string) => enabled.filter((r) => r.changes === kind).map((r) => r.object_type).join(", ");
    expect(names("webhooks")).toContain("contacts");
    expect(names("pull")).toContain("cars");
    // No webhook has arrived yet: nothing is real time.
    const before = await status();
    expect(before).toContain(`\nno webhook received yet: ${names("webhooks")} wait for the minute pull until HubSpot's webhooks reach \`hubsync webhooks\`\n`);
    expect(before).toContain(`\nminute pull only (HubSpot sends no webhooks for them): ${names("pull")}\n`);
    await q(`insert into hubsync.webhook_events (event, subscription_type, status) values ('{}', 'contact.creation', 'done')`);
    try {
      const after = await status();
      expect(after).toContain(`\nreal-time changes (webhooks): ${names("webhooks")}\n`);
      expect(after).toContain(`\nminute pull only (HubSpot sends no webhooks for them): ${names("pull")}\n`);
    } finally {
      await q(`delete from hubsync.webhook_events`);
    }
  });
});
