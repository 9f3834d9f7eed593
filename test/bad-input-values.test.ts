import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleObject } from "../src/core/pull/cycle.ts";
import { pullIncremental } from "../src/core/pull/incremental.ts";
import { runPush } from "../src/core/push/run.ts";
import type { SyncContext } from "../src/core/context.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker, quietLog } from "./support/worker.ts";

/**
 * Values HubSpot refuses, written in SQL on a write-back table in one statement with good rows:
 * each bad row gets HubSpot's reason in hubsync.outbox and _sync_error, the good rows of the same
 * batch arrive, nothing is lost, and fixing the value is enough to send it. Plus oversized values
 * both ways: a 1 MB value pulled, and one pushed (refused like HubSpot refuses > 65,536 characters).
 */

let db: TestDatabase;
let sim: RunningSimulator;
let w: ReturnType<typeof connectWorker>;
let ctx: SyncContext;
const PROPS = ["email", "firstname", "lastname", "hs_lead_status", "annualrevenue", "date_of_birth", "hs_email_optout"];
const outcomes: string[] = [];

beforeAll(async () => {
  db = await installedDatabase("bad_values");
  sim = await startSimulator({ rateLimits: false });
  await sim.control.createProperty("contacts", { name: "lucky_number", label: "Lucky number", type: "number", fieldType: "number", groupName: "contactinformation" });
  for (let i = 0; i < 5; i++) await sim.control.createRecord("contacts", { email: `v${i}@example.com`, firstname: `V${i}` });
  w = connectWorker(db.url, sim);
  ctx = { pool: w.pool, hubspot: w.hubspot, log: quietLog };
  await db.pool.query(`select hubsync.enable_sync('contacts', $1::text[], true)`, [PROPS]);
  const c = await cycleObject(w, "contacts", { archived: false });
  expect(c.error).toBeUndefined();
});

afterAll(async () => {
  for (const o of outcomes) console.log(`BAD-VALUE ${o}`);
  await w?.close();
  await sim?.close();
  await db?.drop();
});

describe("values HubSpot refuses, written in SQL — one story, in order: later tests build on what earlier ones left", () => {
  it("each bad row is rejected with HubSpot's reason; the good rows of the same batch are sent; nothing is lost", async () => {
    const long = "L".repeat(70_000);
    await db.pool.query(
      `insert into hubspot.contacts (email, firstname, hs_lead_status, properties) values
         ('good-1@example.com', 'Good one', 'NEW', '{}'),
         ('bad-enum@example.com', 'Enum', 'NOT_AN_OPTION', '{}'),
         ('bad-number@example.com', 'Number', null, '{"lucky_number": "seven"}'),
         ('bad-long@example.com', $1, null, '{}'),
         ('not an email', 'Email', null, '{}'),
         ('bad-unknown@example.com', 'Unknown', null, '{"no_such_property": "x"}'),
         ('good-2@example.com', 'Good two', 'OPEN', '{"lucky_number": "7"}')`,
      [long],
    );
    await db.pool.query(`update hubspot.contacts set lastname = 'Updated' where email = 'v0@example.com'`);

    const result = await runPush(ctx, "contacts", { coalesceMs: 0 });
    expect(result).toMatchObject({ sent: 3, rejected: 5 });

    const rows = await db.pool.query(
      `select c.email, c.id is not null as created, c._sync_error, o.status, o.error_category, o.error_message, o.attempts
         from hubspot.contacts c join hubsync.outbox o on o.local_id = c._sync_local_id
        where o.op in ('create', 'update') order by o.id`,
    );
    const by = new Map(rows.rows.map((r) => [r.email, r]));
    for (const email of ["good-1@example.com", "good-2@example.com", "v0@example.com"]) {
      expect(by.get(email)).toMatchObject({ status: "sent", created: true, _sync_error: null });
    }
    // HubSpot's per-property reasons, not its JSON-in-a-string message
    const expectations: Array<[string, RegExp]> = [
      ["bad-enum@example.com", /^hs_lead_status: NOT_AN_OPTION was not one of the allowed options: \[NEW, /],
      ["bad-number@example.com", /^lucky_number: seven was not a valid number/],
      ["bad-long@example.com", /^Property firstname is longer than 65536 characters/],
      ["not an email", /^Email address not an email is invalid/],
      ["bad-unknown@example.com", /^Property "no_such_property" does not exist/],
    ];
    for (const [email, reason] of expectations) {
      const r = by.get(email);
      expect(r, email).toMatchObject({ status: "rejected", created: false, error_category: "VALIDATION_ERROR" });
      expect(r.error_message, email).toMatch(reason);
      expect(r._sync_error, email).toContain(`VALIDATION_ERROR: ${r.error_message}`);
      outcomes.push(`${email}: rejected — ${String(r.error_message).slice(0, 120)}`);
    }
    // nothing lost: every row is still in the table as written, and HubSpot has exactly the good ones
    expect((await db.pool.query(`select length(firstname) as n from hubspot.contacts where email = 'bad-long@example.com'`)).rows[0].n).toBe(70_000);
    const inHubSpot = (await sim.control.listRecords("contacts")).map((r) => r.properties.email);
    expect(inHubSpot).toEqual(expect.arrayContaining(["good-1@example.com", "good-2@example.com"]));
    for (const [email] of expectations) expect(inHubSpot).not.toContain(email);
    const status = await db.pool.query(`select pending::int, rejected::int from hubsync.status where object_type = 'contacts'`);
    expect(status.rows[0]).toEqual({ pending: 0, rejected: 5 });
  });

  it("fixing the value is enough: the next push sends it", async () => {
    await db.pool.query(`update hubspot.contacts set hs_lead_status = 'OPEN' where email = 'bad-enum@example.com'`);
    await db.pool.query(`update hubspot.contacts set firstname = 'Short now' where email = 'bad-long@example.com'`);
    const result = await runPush(ctx, "contacts", { coalesceMs: 0 });
    expect(result.sent).toBe(2);
    const fixed = await db.pool.query(
      `select email, id is not null as created, _sync_error from hubspot.contacts where email in ('bad-enum@example.com', 'bad-long@example.com') order by email`,
    );
    expect(fixed.rows).toEqual([
      { email: "bad-enum@example.com", created: true, _sync_error: null },
      { email: "bad-long@example.com", created: true, _sync_error: null },
    ]);
    outcomes.push("fixed enum and long value: sent on the next push");
  });
});

describe("values only PostgreSQL has", () => {
  it("NaN and Infinity numbers and an infinity date are refused by HubSpot with a reason per row", async () => {
    await db.pool.query(`update hubspot.contacts set annualrevenue = 'NaN' where email = 'v2@example.com'`);
    await db.pool.query(`update hubspot.contacts set annualrevenue = '-Infinity' where email = 'v3@example.com'`);
    await db.pool.query(`update hubspot.contacts set date_of_birth = 'infinity' where email = 'v4@example.com'`);
    const result = await runPush(ctx, "contacts", { coalesceMs: 0 });
    expect(result).toMatchObject({ rejected: 3, sent: 0 });
    const { rows } = await db.pool.query(
      `select c.email, c._sync_error from hubspot.contacts c where c.email in ('v2@example.com', 'v3@example.com', 'v4@example.com') order by c.email`,
    );
    expect(rows.map((r) => r._sync_error)).toEqual([
      "VALIDATION_ERROR: annualrevenue: NaN was not a valid number.",
      "VALIDATION_ERROR: annualrevenue: -Infinity was not a valid number.",
      expect.stringMatching(/^VALIDATION_ERROR: date_of_birth: infinity was not a valid date/),
    ]);
    for (const r of rows) outcomes.push(`${r.email}: ${r._sync_error}`);
  });
});

describe("values HubSpot holds that PostgreSQL's types cannot", () => {
  it("a number past numeric's range or a date that does not exist is null in its column, kept in properties, and the pull goes on", async () => {
    const cases: Array<[string, string]> = [
      ["annualrevenue", "1e1000000"],
      ["annualrevenue", "-1e-5000"],
      ["date_of_birth", "2026-13-45"],
      ["date_of_birth", "0000-00-00"],
      ["date_of_birth", "8640000000000000"],
    ];
    const ids: string[] = [];
    for (const [property, value] of cases) {
      const r = await sim.control.createRecord("contacts", { email: `typed-${ids.length}@example.com` });
      await sim.control.updateRecord("contacts", r.id, { [property]: value });
      ids.push(r.id);
    }
    const fine = await sim.control.createRecord("contacts", { email: "typed-fine@example.com", annualrevenue: "12.5", date_of_birth: "2024-02-29" });
    await pullIncremental(w, "contacts");
    const { rows } = await db.pool.query(
      `select id, annualrevenue::text, date_of_birth::text, properties ->> 'annualrevenue' as raw_number, properties ->> 'date_of_birth' as raw_date
         from hubspot.contacts where id = any ($1)`,
      [[...ids, fine.id]],
    );
    const by = new Map(rows.map((r) => [r.id, r]));
    cases.forEach(([property, value], i) => {
      const row = by.get(ids[i]!);
      expect(row, `${property}=${value}`).toBeDefined();
      expect(row[property], `${property}=${value}`).toBeNull();
      expect(row[property === "annualrevenue" ? "raw_number" : "raw_date"], `${property}=${value}`).toBe(value);
      outcomes.push(`${property} = ${value} pulled: column null, kept in properties`);
    });
    expect(by.get(fine.id)).toMatchObject({ annualrevenue: "12.5", date_of_birth: "2024-02-29" });
  });
});

describe("oversized values", () => {
  it("a 1 MB property value is pulled whole into its column and properties", async () => {
    const huge = "H".repeat(1_000_000);
    const rec = await sim.control.createRecord("contacts", { email: "huge@example.com", firstname: huge });
    await pullIncremental(w, "contacts");
    const row = await db.pool.query(`select length(firstname) as col, length(properties ->> 'firstname') as prop from hubspot.contacts where id = $1`, [rec.id]);
    expect(row.rows[0]).toEqual({ col: 1_000_000, prop: 1_000_000 });
    outcomes.push("1 MB value pulled: column and properties hold all 1,000,000 characters");
  });

  it("a refused 100,000-character option value is quoted back by HubSpot; the stored reason is cut to 1,000 characters", async () => {
    const huge = "Q".repeat(100_000);
    await db.pool.query(`insert into hubspot.contacts (email, hs_lead_status) values ('huge-enum@example.com', $1)`, [huge]);
    const result = await runPush(ctx, "contacts", { coalesceMs: 0 });
    expect(result.rejected).toBe(1);
    const r = await db.pool.query(
      `select length(o.error_message) as reason, length(c._sync_error) as row_reason, length(c.hs_lead_status) as kept
         from hubsync.outbox o join hubspot.contacts c on c._sync_local_id = o.local_id where c.email = 'huge-enum@example.com'`,
    );
    expect(r.rows[0].kept).toBe(100_000);
    expect(r.rows[0].reason).toBeLessThanOrEqual(1_000);
    expect(r.rows[0].row_reason).toBeLessThanOrEqual(1_100);
    outcomes.push(`100,000-character bad option: rejected, reason stored in ${r.rows[0].reason} characters, value kept in the row`);
  });

  it("a 1 MB value pushed is refused by HubSpot like any over-long value, and the rest of the batch goes", async () => {
    const huge = "P".repeat(1_000_000);
    await db.pool.query(`insert into hubspot.contacts (email, firstname) values ('huge-push@example.com', $1), ('beside-huge@example.com', 'Beside')`, [huge]);
    const result = await runPush(ctx, "contacts", { coalesceMs: 0 });
    expect(result).toMatchObject({ sent: 1, rejected: 1 });
    const r = await db.pool.query(`select _sync_error, length(firstname) as n from hubspot.contacts where email = 'huge-push@example.com'`);
    expect(r.rows[0].n).toBe(1_000_000);
    expect(r.rows[0]._sync_error).toMatch(/longer than 65536/);
    outcomes.push(`1 MB value pushed: rejected — ${r.rows[0]._sync_error}; its neighbour sent`);
  });
});
