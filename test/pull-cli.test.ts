import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEARCH_DISORDER, startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { enableSync, installedDatabase } from "./pull-helpers.ts";
import type { TestDatabase } from "./support/database.ts";

const run = promisify(execFile);
let db: TestDatabase;
let sim: RunningSimulator;

beforeAll(async () => {
  db = await installedDatabase("pull_cli");
  sim = await startSimulator({ tier: "pro", faults: SEARCH_DISORDER });
  for (let i = 0; i < 120; i++) await sim.control.createRecord("contacts", { email: `cli${i}@example.com`, firstname: `Cli${i}` });
});

afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

describe("hubsync sync --once", () => {
  it("discovers, backfills and catches up enabled objects in one process, then exits", async () => {
    const company = await sim.control.createRecord("companies", { name: "Acme", domain: "acme.example.com" });
    const someone = (await sim.control.listRecords("contacts"))[5]!.id;
    await sim.control.associate("contacts", someone, "companies", company.id);
    await enableSync(db.pool, "contacts");
    await enableSync(db.pool, "companies");
    await enableSync(db.pool, "owners");
    const env = { ...process.env, DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url, HUBSYNC_LOG_LEVEL: "warn" };
    const first = await run(process.execPath, ["src/cli/hubsync.ts", "sync", "--once"], { env, cwd: process.cwd() });
    expect(first.stdout).toMatch(/contacts\s+live — .*backfill 120 records/);
    expect(first.stderr + first.stdout).not.toContain(sim.token);
    const { rows } = await db.pool.query(`select count(*)::int as n from hubspot.contacts`);
    expect(rows[0].n).toBe(120);
    // without a worker, the same command also creates and fills the association tables
    const pair = await db.pool.query(`select company_id, contact_id from hubspot.associations_company_contact`);
    expect(pair.rows).toEqual([{ company_id: company.id, contact_id: someone }]);

    await sim.control.updateRecord("contacts", (await sim.control.listRecords("contacts"))[0]!.id, { firstname: "Edited" });
    const second = await run(process.execPath, ["src/cli/hubsync.ts", "sync", "--once", "contacts"], { env, cwd: process.cwd() });
    expect(second.stdout).toMatch(/contacts\s+live — incremental 1 records/);
    const edited = await db.pool.query(`select count(*)::int as n from hubspot.contacts where firstname = 'Edited'`);
    expect(edited.rows[0].n).toBe(1);
  });
});
