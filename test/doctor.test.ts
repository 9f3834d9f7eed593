import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { doctorPassed, formatDoctor, runDoctor, type CheckRow } from "../src/core/doctor.ts";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { enableSync, quietLog } from "./support/worker.ts";
import { installedDatabase } from "./support/database.ts";
import { freshDatabase, type TestDatabase } from "./support/database.ts";

/**
 * `hubsync doctor` on a working set-up, then with one thing wrong at a time: each failure is one
 * line of the table naming what is wrong and what to do, and the doctor says sync cannot work.
 */

let db: TestDatabase;
let bare: TestDatabase;
let sim: RunningSimulator;

beforeAll(async () => {
  db = await installedDatabase("doctor");
  bare = await freshDatabase("doctor_bare");
  sim = await startSimulator({ tier: "free", timeZone: "America/Los_Angeles" });
  await enableSync(db.pool, "contacts");
  await enableSync(db.pool, "deals");
  await db.pool.query(`select hubsync.enable_write_back('contacts')`);
  await db.pool.query(`select hubsync.enable_sync('lists', write_back => true)`);
});

afterAll(async () => {
  await sim?.close();
  await db?.drop();
  await bare?.drop();
});

const env = (over: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => ({
  DATABASE_URL: db.url,
  HUBSPOT_ACCESS_TOKEN: sim.token,
  HUBSPOT_BASE_URL: sim.url,
  ...over,
});

async function doctor(over: Record<string, string | undefined> = {}): Promise<{ rows: CheckRow[]; table: string; ok: boolean }> {
  const rows = await runDoctor(env(over), quietLog);
  return { rows, table: formatDoctor(rows), ok: doctorPassed(rows) };
}

/** The table's one line for a check, with its verdict. */
function line(table: string, check: string): string {
  const found = table.split("\n").filter((l) => l.split(/\s{2,}/)[1] === check);
  expect(found, `one line for "${check}" in:\n${table}`).toHaveLength(1);
  return found[0]!;
}

describe("hubsync doctor", () => {
  it("on a working set-up: every check passes, with the account's time zone and the tier's limits", async () => {
    const { table, ok } = await doctor({ HUBSPOT_WEBHOOK_SECRET: "s3cret" });
    console.log(table);
    expect(ok).toBe(true);
    expect(line(table, "DATABASE_URL")).toMatch(/^ok\s+DATABASE_URL\s+connected as \S+ \(PostgreSQL \d+/);
    expect(line(table, "install")).toContain("installed; syncing contacts, deals, lists");
    expect(line(table, "access token")).toMatch(/accepted by HubSpot \(portal \d+, API 2026-09\)/);
    expect(line(table, "time zone")).toContain("America/Los_Angeles: the daily quota resets at its midnight");
    expect(line(table, "rate limits")).toContain("100 per 10 s (Free or Starter); 250,000 a day");
    expect(line(table, "read contacts")).toMatch(/^ok/);
    expect(line(table, "read deals")).toMatch(/^ok/);
    expect(line(table, "write contacts")).toMatch(/^ok/);
    expect(line(table, "property contacts.hubsync_local_id")).toMatch(/^ok\s+.*hubsync may create it/);
    expect(line(table, "read lists")).toMatch(/^ok/);
    expect(line(table, "change list members")).toMatch(/^ok/);
    expect(line(table, "webhooks")).toMatch(/^ok\s+webhooks\s+signatures checked with HUBSPOT_WEBHOOK_SECRET/);
    expect(line(table, "webhook inbox")).toMatch(/^WARN\s+webhook inbox\s+no event received yet/);
  });

  it("without a webhook secret: a warning (pulls carry every change), not a failure", async () => {
    const { table, ok } = await doctor({ HUBSPOT_WEBHOOK_SECRET: undefined });
    expect(ok).toBe(true);
    expect(line(table, "webhooks")).toMatch(/^WARN\s+webhooks\s+off \(no HUBSPOT_WEBHOOK_SECRET\): changes arrive by polling\s+for webhooks: a project-based app's client secret \(Service Keys have none\)$/);
  });

  it("a HUBSYNC_DAILY_RESET_TZ other than the account's: a warning saying so", async () => {
    const { table, ok } = await doctor({ HUBSYNC_DAILY_RESET_TZ: "Europe/Paris" });
    expect(ok).toBe(true);
    expect(line(table, "time zone")).toMatch(/^WARN\s+time zone\s+HUBSYNC_DAILY_RESET_TZ=Europe\/Paris, but the account's is America\/Los_Angeles/);
  });

  const failures: Array<{ what: string; over?: Record<string, string | undefined>; sim?: Parameters<RunningSimulator["control"]["configure"]>[0]; check: string; expected: RegExp }> = [
    { what: "a bad setting", over: { HUBSYNC_HUBSPOT_API: "v9" }, check: "environment", expected: /^FAIL\s+environment\s+bad environment: HUBSYNC_HUBSPOT_API must be one of 2026-09, 2026-03, legacy/ },
    { what: "DATABASE_URL unset", over: { DATABASE_URL: undefined }, check: "DATABASE_URL", expected: /^FAIL\s+DATABASE_URL\s+not set\s+export DATABASE_URL=postgres:\/\// },
    {
      what: "no PostgreSQL there",
      over: { DATABASE_URL: "postgres://nobody@127.0.0.1:9/none" },
      check: "DATABASE_URL",
      expected: /^FAIL\s+DATABASE_URL\s+cannot connect: .*ECONNREFUSED.*check host, port, user and password/,
    },
    { what: "hubsync not installed", over: { DATABASE_URL: "" }, check: "install", expected: /^FAIL\s+install\s+hubsync is not installed in this database\s+run `hubsync install`$/ },
    { what: "no token", over: { HUBSPOT_ACCESS_TOKEN: undefined }, check: "access token", expected: /^FAIL\s+access token\s+HUBSPOT_ACCESS_TOKEN is not set\s+create a Service Key/ },
    { what: "a refused token (401)", over: { HUBSPOT_ACCESS_TOKEN: "pat-na1-revoked" }, check: "access token", expected: /^FAIL\s+access token\s+HubSpot rejected the access token \(401\).*create a Service Key/ },
    {
      what: "a token HubSpot cannot read (530)",
      over: { HUBSPOT_ACCESS_TOKEN: '"pat-na1-quoted"' },
      check: "access token",
      expected: /^FAIL\s+access token\s+HubSpot could not read the access token \(530\) — check HUBSPOT_ACCESS_TOKEN \(the whole token, without quotes or spaces\)/,
    },
    { what: "an account being migrated (477)", sim: { migrationRetryAfterSeconds: 3600 }, check: "access token", expected: /^FAIL\s+access token\s+HubSpot is migrating this account \(477 Migration in progress\).*wait: HubSpot is moving the account/ },
    {
      what: "a type the key may not read",
      sim: { missingScopes: [{ pathPrefix: "/crm/objects/2026-09/deals", scope: "crm.objects.deals.read" }] },
      check: "read deals",
      expected: /^FAIL\s+read deals\s+refused \(403\): missing scope crm\.objects\.deals\.read\s+add scope crm\.objects\.deals\.read to the key$/,
    },
    {
      what: "a write-back type the key may not write",
      sim: { missingScopes: [{ pathPrefix: "/crm/objects/2026-09/contacts/batch/update", scope: "crm.objects.contacts.write" }] },
      check: "write contacts",
      expected: /^FAIL\s+write contacts\s+refused \(403\): missing scope crm\.objects\.contacts\.write\s+add scope crm\.objects\.contacts\.write to the key, or disable_write_back\('contacts'\)$/,
    },
    {
      what: "lists whose members the key may not change",
      sim: { missingScopes: [{ pathPrefix: "/crm/lists/2026-09/0/memberships", scope: "crm.lists.write" }] },
      check: "change list members",
      expected: /^FAIL\s+change list members\s+refused \(403\): missing scope crm\.lists\.write\s+add scope crm\.lists\.write to the key$/,
    },
    {
      what: "hubsync's property that the key may not create",
      sim: { missingScopes: [{ pathPrefix: "/crm/properties/2026-09/contacts", scope: "crm.schemas.contacts.write", method: "POST" }] },
      check: "property contacts.hubsync_local_id",
      expected: /^FAIL\s+property contacts\.hubsync_local_id\s+cannot be created \(403\): missing scope crm\.schemas\.contacts\.write/,
    },
  ];

  it.each(failures)("$what: one line, and sync cannot work", async (f) => {
    const over = f.over?.DATABASE_URL === "" ? { ...f.over, DATABASE_URL: bare.url } : (f.over ?? {});
    if (f.sim) await sim.control.configure(f.sim);
    try {
      const { table, ok } = await doctor(over);
      console.log(`${f.what}: ${line(table, f.check)}`);
      expect(line(table, f.check)).toMatch(f.expected);
      expect(ok).toBe(false);
      expect(table.split("\n").filter((l) => l.startsWith("FAIL"))).toHaveLength(1);
    } finally {
      if (f.sim) await sim.control.configure({ missingScopes: [], migrationRetryAfterSeconds: null });
    }
  });
});
