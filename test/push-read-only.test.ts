import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { connectWorker } from "./support/worker.ts";
import { installedDatabase } from "./support/database.ts";
import { runCli } from "./support/cli.ts";
import type { TestDatabase } from "./support/database.ts";
import { objectStatus } from "./support/status.ts";

// README: read-only (calculated) properties are never sent. A key HubSpot computes itself, written
// into the `properties` jsonb column, is refused in SQL when it is written: a rejected outbox row
// with the reason, the reason on the row (_sync_error), counted by hubsync.status; the writable
// part of the same change goes to HubSpot, the read-only part never does, not on a retry either.

let db: TestDatabase;
let sim: RunningSimulator;
let contactId = "";

beforeAll(async () => {
  db = await installedDatabase("push_read_only");
  sim = await startSimulator({ rateLimits: false });
  contactId = (await sim.control.createRecord("contacts", { email: "ro@example.com", firstname: "Ro" })).id;
  await db.pool.query(`select hubsync.enable_sync('contacts', array['email', 'firstname'], true)`);
  const deps = connectWorker(db.url, sim);
  try {
    expect((await cycleAll(deps, ["contacts"])).map((c) => c.error ?? c.phase)).toEqual(["live"]);
  } finally {
    await deps.close();
  }
});

afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

const outbox = async () =>
  (
    await db.pool.query(
      `select op, status, changes, error_category, error_status, error_message from hubsync.outbox where op <> 'associate' order by id`,
    )
  ).rows;
const push = () => runCli(["push", "contacts"], { DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url, HUBSYNC_LOG_LEVEL: "silent" }, 60_000);

// Each test goes on from the outbox the one before left.
describe("read-only properties — one story, in order: later tests build on what earlier ones left", () => {
  it("discovery records which properties HubSpot computes itself", async () => {
    const { rows } = await db.pool.query(`select read_only_properties from hubsync.objects where object_type = 'contacts'`);
    expect(rows[0].read_only_properties).toContain("hs_analytics_num_visits");
    expect(rows[0].read_only_properties).not.toContain("jobtitle");
  });

  it("refuses a read-only key written into properties at once, with the reason, and sends only the rest", async () => {
    await db.pool.query(`update hubspot.contacts set properties = properties || '{"hs_analytics_num_visits": "7", "jobtitle": "CTO"}' where id = $1`, [contactId]);
    const reason =
      'READ_ONLY_VALUE: "hs_analytics_num_visits" is read-only in HubSpot (calculated or set by HubSpot), so hubsync never sends it; remove it from properties';
    expect(await outbox()).toEqual([
      { op: "update", status: "rejected", changes: { hs_analytics_num_visits: "7" }, error_category: "READ_ONLY_VALUE", error_status: null, error_message: reason },
      { op: "update", status: "pending", changes: { jobtitle: "CTO" }, error_category: null, error_status: null, error_message: null },
    ]);
    const row = await db.pool.query(`select _sync_error from hubspot.contacts where id = $1`, [contactId]);
    expect(row.rows[0]._sync_error).toBe(reason);
    expect(await objectStatus(db.pool, "contacts")).toMatchObject({ pending: 1, rejected: 1 });

    const since = Date.now();
    const sent = await push();
    expect(sent.stdout).toMatch(/contacts\s+1 sent, 0 rejected/);
    expect(sent.code).toBe(0);
    // HubSpot got the writable property and accepted every call: the read-only one never reached it
    const record = await sim.control.getRecord("contacts", contactId);
    expect(record!.properties.jobtitle).toBe("CTO");
    expect(record!.properties.hs_analytics_num_visits ?? null).not.toBe("7");
    const writes = (await sim.control.requests({ since })).filter((r) => r.method !== "GET");
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.map((r) => `${r.method} ${r.path} ${r.status}`).filter((w) => !/ 20[01]$/.test(w))).toEqual([]);
    expect((await outbox()).map((r) => r.status)).toEqual(["rejected", "sent"]);
  });

  it("never queues the refused change again: not with the row's next change, not on retry_rejected", async () => {
    await db.pool.query(`update hubspot.contacts set firstname = 'Roberta' where id = $1`, [contactId]);
    expect((await db.pool.query(`select hubsync.retry_rejected('contacts') as n`)).rows[0].n).toBe(0);
    const rows = await outbox();
    expect(rows.map((r) => [r.status, r.changes])).toEqual([
      ["rejected", { hs_analytics_num_visits: "7" }],
      ["sent", { jobtitle: "CTO" }],
      ["pending", { firstname: "Roberta" }],
    ]);
    expect((await push()).stdout).toMatch(/contacts\s+1 sent, 0 rejected/);
    expect((await sim.control.getRecord("contacts", contactId))!.properties.firstname).toBe("Roberta");
    expect((await objectStatus(db.pool, "contacts"))?.rejected).toBe(1);
  });

  it("an insert carrying a read-only key is created without it, the key refused", async () => {
    await db.pool.query(`insert into hubspot.contacts (email, properties) values ('new-ro@example.com', '{"hs_analytics_num_visits": "3", "jobtitle": "Dev"}')`);
    const rows = (await outbox()).slice(3);
    expect(rows.map((r) => [r.op, r.status, r.changes])).toEqual([
      ["update", "rejected", { hs_analytics_num_visits: "3" }],
      ["create", "pending", { email: "new-ro@example.com", jobtitle: "Dev" }],
    ]);
    expect((await push()).stdout).toMatch(/contacts\s+1 sent, 0 rejected/);
    const created = (await sim.control.listRecords("contacts")).find((r) => r.properties.email === "new-ro@example.com");
    expect(created?.properties.jobtitle).toBe("Dev");
  });
});
