import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { CONTACT_COLUMNS, makeAssociationTable, makeObjectTable } from "./support/push.ts";

let db: TestDatabase;

async function outbox() {
  const r = await db.pool.query(`select op, record_id, local_id::text, changes, previous, status from hubsync.outbox order by id`);
  return r.rows;
}

async function pushJobs() {
  const r = await db.pool.query(`select key, run_at from hubsync_worker.jobs where task_identifier = 'hubsync_push'`);
  return r.rows;
}

/** A write as the pull does it: echo suppression on. */
async function pulled(sql: string, params: unknown[] = []) {
  const c = await db.pool.connect();
  try {
    await c.query("begin");
    await c.query(`select set_config('hubsync.applying', 'on', true)`);
    await c.query(sql, params);
    await c.query("commit");
  } finally {
    c.release();
  }
}

beforeAll(async () => {
  db = await installedDatabase("push_triggers");
  await makeObjectTable(db.pool, "contacts", "contact", CONTACT_COLUMNS);
  await makeObjectTable(db.pool, "companies", "company", [{ property: "name", hubspotType: "string", pgType: "text" }]);
  await makeAssociationTable(db.pool, "company", "contact");
  await db.pool.query(`select hubsync._refresh_write_back('contacts')`);
});

afterAll(async () => {
  await db?.drop();
});

describe("write-back triggers — one story, in order: later tests build on what earlier ones left", () => {
  it("records an insert with its properties encoded as HubSpot strings, and wakes the push once per transaction", async () => {
    await db.pool.query(`delete from hubsync.outbox`);
    await db.pool.query(`delete from hubsync_worker._private_jobs`);
    const c = await db.pool.connect();
    await c.query("begin");
    await c.query(`insert into hubspot.contacts (email, num_employees, hs_is_unworked, date_of_birth, last_seen, interests)
                   values ('a@example.com', 12.50, true, '1990-02-03', '2024-09-11 15:27:39.356+02', array['golf','chess'])`);
    await c.query(`insert into hubspot.contacts (email) values ('b@example.com')`);
    await c.query("commit");
    c.release();
    const rows = await outbox();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      op: "create",
      record_id: null,
      status: "pending",
      changes: {
        email: "a@example.com",
        num_employees: "12.50",
        hs_is_unworked: "true",
        date_of_birth: "1990-02-03",
        last_seen: "2024-09-11T13:27:39.356Z",
        interests: "golf;chess",
      },
    });
    expect(rows[0].local_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await pushJobs()).toHaveLength(1);
  });

  it("records only the changed properties of an update, with their previous values, and nothing for a no-op update", async () => {
    await db.pool.query(`insert into hubspot.contacts (id, email, firstname) values ('101', 'x@example.com', 'Ann')`);
    await db.pool.query(`delete from hubsync.outbox`);
    await db.pool.query(`update hubspot.contacts set firstname = 'Anna', lastname = null where id = '101'`);
    await db.pool.query(`update hubspot.contacts set firstname = 'Anna' where id = '101'`);
    const rows = await outbox();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ op: "update", record_id: "101", changes: { firstname: "Anna" }, previous: { firstname: "Ann" } });
    await db.pool.query(`update hubspot.contacts set lastname = 'Lee', interests = null where id = '101'`);
    await db.pool.query(`update hubspot.contacts set lastname = null where id = '101'`);
    const after = await outbox();
    expect(after[2]).toMatchObject({ changes: { lastname: "" }, previous: { lastname: "Lee" } });
  });

  it("records each row of a multi-row update with its own changes, in one wake-up, and refuses a change of _sync_local_id", async () => {
    await db.pool.query(`insert into hubspot.contacts (id, email, firstname, lastname) values ('201', 'm1@example.com', 'M1', 'L'), ('202', 'm2@example.com', 'M2', 'L'), ('203', 'm3@example.com', 'M3', 'L')`);
    await db.pool.query(`delete from hubsync.outbox`);
    await db.pool.query(`delete from hubsync_worker._private_jobs`);
    // 202's firstname is already 'M2': only its lastname changes; 203 does not match
    await db.pool.query(`update hubspot.contacts set firstname = 'M2', lastname = case when id = '201' then 'L' else 'K' end where id in ('201', '202')`);
    const rows = (await outbox()).sort((a, b) => a.record_id.localeCompare(b.record_id));
    expect(rows.map((r) => [r.op, r.record_id, r.changes, r.previous])).toEqual([
      ["update", "201", { firstname: "M2" }, { firstname: "M1" }],
      ["update", "202", { lastname: "K" }, { lastname: "L" }],
    ]);
    expect(await pushJobs()).toHaveLength(1);
    await expect(db.pool.query(`update hubspot.contacts set _sync_local_id = gen_random_uuid(), firstname = 'X' where id = '203'`)).rejects.toThrow(
      /cannot change _sync_local_id/,
    );
    expect(await outbox()).toHaveLength(2);
    expect((await db.pool.query(`select firstname from hubspot.contacts where id = '203'`)).rows[0].firstname).toBe("M3");
    await db.pool.query(`delete from hubspot.contacts where id in ('201', '202', '203')`);
  });

  it("turns a delete into an archive and ignores read-only columns", async () => {
    await db.pool.query(`delete from hubsync.outbox`);
    await db.pool.query(`update hubspot.contacts set createdate = now() where id = '101'`);
    await db.pool.query(`delete from hubspot.contacts where id = '101'`);
    const rows = await outbox();
    expect(rows.map((r) => [r.op, r.record_id])).toEqual([["archive", "101"]]);
  });

  it("sends nothing for a rolled-back transaction", async () => {
    await db.pool.query(`delete from hubsync.outbox`);
    await db.pool.query(`delete from hubsync_worker._private_jobs`);
    const c = await db.pool.connect();
    await c.query("begin");
    await c.query(`insert into hubspot.contacts (email) values ('rollback@example.com')`);
    await c.query("rollback");
    c.release();
    expect(await outbox()).toEqual([]);
    expect(await pushJobs()).toEqual([]);
  });

  it("does not record the worker's own pulled writes", async () => {
    await db.pool.query(`delete from hubsync.outbox`);
    await pulled(`insert into hubspot.contacts (id, email) values ('202', 'pulled@example.com')`);
    await pulled(`update hubspot.contacts set firstname = 'P' where id = '202'`);
    await pulled(`delete from hubspot.contacts where id = '202'`);
    expect(await outbox()).toEqual([]);
  });

  it("lets a hubspot_writer role that owns nothing write, and queues its change", async () => {
    await db.pool.query(`delete from hubsync.outbox`);
    const role = `writer_${Math.random().toString(36).slice(2, 8)}`;
    await db.pool.query(`create role ${role} login password 'pw' in role hubspot_writer`);
    const url = new URL(db.url);
    url.username = role;
    url.password = "pw";
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    try {
      await c.query(`insert into hubspot.contacts (email) values ('writer@example.com')`);
      await c.query(`update hubspot.contacts set firstname = 'W' where email = 'writer@example.com'`);
      await c.query(`insert into hubspot.associations_company_contact (company_id, contact_id) values ('1', '2')`);
      await expect(c.query(`select * from hubsync.outbox`)).rejects.toThrow(/permission denied/);
    } finally {
      await c.end();
      await db.pool.query(`drop owned by ${role}; drop role ${role}`).catch(() => {});
    }
    const rows = await outbox();
    expect(rows.map((r) => r.op)).toEqual(["create", "update", "associate"]);
  });

  it("records association inserts, relabels and deletes", async () => {
    await db.pool.query(`delete from hubsync.outbox`);
    await db.pool.query(`insert into hubspot.associations_company_contact (company_id, contact_id, type_ids) values ('c1', 'p1', '{280}')`);
    await db.pool.query(`update hubspot.associations_company_contact set type_ids = '{2,280}' where company_id = 'c1'`);
    await db.pool.query(`delete from hubspot.associations_company_contact where company_id = 'c1'`);
    const rows = await outbox();
    expect(rows.map((r) => r.op)).toEqual(["associate", "associate", "unassociate"]);
    expect(rows[1].changes).toMatchObject({ fromType: "companies", toType: "contacts", from: "c1", to: "p1", typeIds: [2, 280], oldTypeIds: [280] });
  });
});

describe("conflicts between a pulled change and a pending local change", () => {
  async function scenario(policy: string, opts: { hubspotLater?: boolean } = {}) {
    await db.pool.query(`update hubsync.objects set conflict_policy = $1 where object_type = 'contacts'`, [policy]);
    await db.pool.query(`delete from hubsync.outbox; delete from hubsync.conflicts`);
    await pulled(`delete from hubspot.contacts where id = '303'`);
    await pulled(`insert into hubspot.contacts (id, firstname, lastname, interests, updated_at) values ('303', 'Base', 'Same', '{a,b}', now() - interval '1 hour')`);
    await db.pool.query(`update hubspot.contacts set firstname = 'Local', interests = '{a,b,c}' where id = '303'`);
    const at = opts.hubspotLater === false ? "now() - interval '10 minutes'" : "now() + interval '1 minute'";
    await pulled(`update hubspot.contacts set firstname = 'Remote', interests = '{b,d}', lastname = 'Changed', updated_at = ${at} where id = '303'`);
    const row = (await db.pool.query(`select firstname, lastname, interests from hubspot.contacts where id = '303'`)).rows[0];
    const pending = (await db.pool.query(`select changes, status from hubsync.outbox order by id`)).rows;
    const conflicts = (await db.pool.query(`select property, local_value, hubspot_value, winner, resolved_value, policy from hubsync.conflicts order by property`)).rows;
    return { row, pending, conflicts };
  }

  it("hubspot_wins: HubSpot's value stays, the local change is dropped, the conflict logged", async () => {
    const { row, pending, conflicts } = await scenario("hubspot_wins");
    expect(row).toEqual({ firstname: "Remote", lastname: "Changed", interests: ["b", "d"] });
    expect(pending).toEqual([{ changes: {}, status: "superseded" }]);
    expect(conflicts).toEqual([
      { property: "firstname", local_value: "Local", hubspot_value: "Remote", winner: "hubspot", resolved_value: "Remote", policy: "hubspot_wins" },
      { property: "interests", local_value: "a;b;c", hubspot_value: "b;d", winner: "hubspot", resolved_value: "b;d", policy: "hubspot_wins" },
    ]);
  });

  it("postgres_wins: the local value stays and is still sent", async () => {
    const { row, pending, conflicts } = await scenario("postgres_wins");
    expect(row).toEqual({ firstname: "Local", lastname: "Changed", interests: ["a", "b", "c"] });
    expect(pending).toEqual([{ changes: { firstname: "Local", interests: "a;b;c" }, status: "pending" }]);
    expect(conflicts.map((c) => c.winner)).toEqual(["postgres", "postgres"]);
  });

  it("latest_wins: the later change wins (HubSpot's updatedAt against the local change's time)", async () => {
    const later = await scenario("latest_wins", { hubspotLater: true });
    expect(later.row.firstname).toBe("Remote");
    expect(later.conflicts.map((c) => c.winner)).toEqual(["hubspot", "hubspot"]);
    const earlier = await scenario("latest_wins", { hubspotLater: false });
    expect(earlier.row.firstname).toBe("Local");
    expect(earlier.conflicts.map((c) => c.winner)).toEqual(["postgres", "postgres"]);
  });

  it("merge: multi-select values are merged item by item, other properties go to the later change", async () => {
    const { row, pending, conflicts } = await scenario("merge", { hubspotLater: true });
    // base {a,b}; local added c; HubSpot removed a and added d → {b,c,d}
    expect(row).toEqual({ firstname: "Remote", lastname: "Changed", interests: ["b", "c", "d"] });
    expect(pending).toEqual([{ changes: { interests: "b;c;d" }, status: "pending" }]);
    expect(conflicts.map((c) => [c.property, c.winner, c.resolved_value])).toEqual([
      ["firstname", "hubspot", "Remote"],
      ["interests", "merged", "b;c;d"],
    ]);
  });

  it("a pull that still shows HubSpot's old value is not a conflict: the local value is kept", async () => {
    await db.pool.query(`update hubsync.objects set conflict_policy = 'hubspot_wins' where object_type = 'contacts'`);
    await db.pool.query(`delete from hubsync.outbox; delete from hubsync.conflicts`);
    await pulled(`delete from hubspot.contacts where id = '404'`);
    await pulled(`insert into hubspot.contacts (id, firstname, lastname) values ('404', 'Old', 'X')`);
    await db.pool.query(`update hubspot.contacts set firstname = 'New' where id = '404'`);
    await pulled(`update hubspot.contacts set firstname = 'Old', lastname = 'Y' where id = '404'`);
    const row = (await db.pool.query(`select firstname, lastname from hubspot.contacts where id = '404'`)).rows[0];
    expect(row).toEqual({ firstname: "New", lastname: "Y" });
    expect((await db.pool.query(`select count(*)::int as n from hubsync.conflicts`)).rows[0].n).toBe(0);
  });
});

describe("writing HubSpot's answer back", () => {
  it("sets the id and HubSpot's normalised values without queueing a push, keeping values with newer local changes", async () => {
    await db.pool.query(`delete from hubsync.outbox`);
    const { l } = (await db.pool.query(`insert into hubspot.contacts (email, firstname) values ('WB@Example.com', 'W') returning _sync_local_id::text as l`)).rows[0];
    await db.pool.query(`update hubsync.outbox set status = 'sent'`);
    await db.pool.query(`update hubspot.contacts set firstname = 'Newer' where _sync_local_id = $1`, [l]);
    const answer = [
      {
        localId: l,
        id: "9001",
        properties: { email: "wb@example.com", firstname: "W", num_employees: "12", interests: "a;b", last_seen: "1700000000000", hubsync_local_id: l },
        createdAt: "2026-01-01T00:00:00.000Z",
        updatedAt: "2026-01-02T00:00:00.000Z",
      },
    ];
    await db.pool.query(`select hubsync._push_write_back('contacts', $1::jsonb)`, [JSON.stringify(answer)]);
    const row = (
      await db.pool.query(
        `select id, email, firstname, num_employees, interests, last_seen, updated_at, properties ->> 'hubsync_local_id' as p from hubspot.contacts where _sync_local_id = $1`,
        [l],
      )
    ).rows[0];
    expect(row).toMatchObject({ id: "9001", email: "wb@example.com", firstname: "Newer", num_employees: "12", interests: ["a", "b"], p: l });
    expect(row.last_seen.toISOString()).toBe("2023-11-14T22:13:20.000Z");
    expect(row.updated_at.toISOString()).toBe("2026-01-02T00:00:00.000Z");
    expect((await db.pool.query(`select count(*)::int as n from hubsync.outbox where status = 'pending'`)).rows[0].n).toBe(1);
    expect((await db.pool.query(`select count(*)::int as n from hubsync.conflicts`)).rows[0].n).toBe(0);
  });

  it("marks a rejected row and, with revert, restores its previous values", async () => {
    const { l } = (await db.pool.query(`insert into hubspot.contacts (id, firstname, num_employees) values ('9002', 'Bad', 5) returning _sync_local_id::text as l`)).rows[0];
    await db.pool.query(`select hubsync._push_mark_rejected('contacts', $1, 'VALIDATION_ERROR: nope', '{"firstname": "Good", "num_employees": "4"}')`, [l]);
    const row = (await db.pool.query(`select firstname, num_employees, _sync_error from hubspot.contacts where id = '9002'`)).rows[0];
    expect(row).toEqual({ firstname: "Good", num_employees: "4", _sync_error: "VALIDATION_ERROR: nope" });
  });
});

describe("tables that keep archived rows (on_archive = 'mark')", () => {
  it("setting archived_at archives the record", async () => {
    await db.pool.query(`delete from hubsync.outbox`);
    await pulled(`insert into hubspot.contacts (id, email) values ('505', 'mark@example.com')`);
    await db.pool.query(`update hubspot.contacts set archived_at = now() where id = '505'`);
    expect((await outbox()).map((r) => [r.op, r.record_id])).toEqual([["archive", "505"]]);
  });
});
