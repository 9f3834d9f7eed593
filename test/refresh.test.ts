import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import type { RunningWorker } from "../src/core/worker/runner.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { runCli } from "./support/cli.ts";
import { prune } from "../src/core/retention.ts";
import { enableSync, quietLog, startTestWorker } from "./support/worker.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let worker: RunningWorker | null = null;
const contacts: string[] = [];
let company = "";

/** Polls with a generous limit: the suite runs under load, and speed is the bench's business. */
const until = <T>(what: string, check: () => Promise<T | undefined>) => waitFor(what, check, { timeoutMs: 60_000, intervalMs: 100 });

/**
 * HubSpot's search index lags its records; made long here, a change stays out of the incremental
 * pull's searches for the whole test, so only a read by id can bring it.
 */
const SEARCH_INDEX_LAG_MS = 10 * 60 * 1000;

async function request(id: number): Promise<{ done_at: Date | null; error: string | null; result: Record<string, number> | null }> {
  const { rows } = await db.pool.query(`select done_at, error, result from hubsync.refresh_requests where id = $1`, [id]);
  return rows[0];
}

beforeAll(async () => {
  db = await installedDatabase("refresh");
  sim = await startSimulator({ rateLimits: false });
  for (let i = 0; i < 5; i++) contacts.push((await sim.control.createRecord("contacts", { email: `r${i}@example.com`, firstname: `R${i}` })).id);
  company = (await sim.control.createRecord("companies", { name: "Acme" })).id;
  worker = await startTestWorker(db.url, sim);
  await enableSync(db.pool, "contacts");
  await enableSync(db.pool, "companies");
  // ... and every association backfill done: none of them may be what brings the association below
  await until("both types live and their association tables filled", async () => {
    const { rows } = await db.pool.query(
      `select (select bool_and(phase = 'live') and count(*) = 2 from hubsync.objects) as live,
              (select bool_and(backfilled_at is not null) and count(*) = 3 from hubsync.association_pairs) as pairs,
              (select count(*) from hubsync_worker._private_jobs j join hubsync_worker._private_tasks t on t.id = j.task_id
                where t.identifier = 'hubsync_backfill_associations') as waiting`,
    );
    return rows[0].live && rows[0].pairs && Number(rows[0].waiting) === 0 ? true : undefined;
  });
});

afterAll(async () => {
  await worker?.stop();
  await sim?.close();
  await db?.drop();
});

describe("refresh on demand", () => {
  it("hubsync.refresh reads a change the pulls would not see, its associations, and removes an id HubSpot archived", async () => {
    const [changed, deleted] = contacts;
    await sim.control.configure({ indexLagMs: SEARCH_INDEX_LAG_MS });
    await sim.control.updateRecord("contacts", changed!, { firstname: "Changed a moment ago" });
    await sim.control.associate("contacts", changed!, "companies", company);
    await sim.control.archiveRecord("contacts", deleted!);

    const { rows } = await db.pool.query(`select hubsync.refresh('contacts', array[$1, $2]) as request`, [changed, deleted]);
    const id = Number(rows[0].request);
    // it returns at once: the request waits for the worker
    expect(id).toBeGreaterThan(0);
    const done = await until("the refresh to be done", async () => {
      const r = await request(id);
      if (r.error) throw new Error(r.error);
      return r.done_at ? r : undefined;
    });
    expect(done.result).toMatchObject({ ids: 2, updated: 1, archived: 1 });
    expect(done.result!.associations).toBeGreaterThanOrEqual(1);
    const contact = await db.pool.query(`select firstname from hubspot.contacts where id = $1`, [changed]);
    expect(contact.rows).toEqual([{ firstname: "Changed a moment ago" }]);
    const gone = await db.pool.query(`select id from hubspot.contacts where id = $1`, [deleted]);
    expect(gone.rows).toEqual([]);
    const assoc = await db.pool.query(`select 1 from hubspot.associations_company_contact where company_id = $1 and contact_id = $2`, [company, changed]);
    expect(assoc.rowCount).toBe(1);
    const runs = await db.pool.query(`select status from hubsync.runs where kind = 'refresh' and object_type = 'contacts'`);
    expect(runs.rows).toEqual([{ status: "ok" }]);
  });

  it("`hubsync refresh` does the same from the shell and waits for it", async () => {
    const target = contacts[3]!;
    await sim.control.updateRecord("contacts", target, { firstname: "From the shell" });
    const r = await runCli(["refresh", "contacts", target], { DATABASE_URL: db.url }, 60_000);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^contacts: 1 record\(s\) read in [\d.]+ s: 1 updated/);
    // done when it returns: the row is already current
    const { rows } = await db.pool.query(`select firstname from hubspot.contacts where id = $1`, [target]);
    expect(rows).toEqual([{ firstname: "From the shell" }]);
  });

  it("refuses what it cannot do, with a hint", async () => {
    await expect(db.pool.query(`select hubsync.refresh('contacts', array['12x'])`)).rejects.toMatchObject({
      message: `hubsync: '12x' is not a HubSpot record id`,
      hint: expect.stringContaining("whole numbers"),
    });
    await expect(db.pool.query(`select hubsync.refresh('contacts', array[]::text[])`)).rejects.toMatchObject({ message: "hubsync: no ids to refresh" });
    await expect(db.pool.query(`select hubsync.refresh('deals', array['1'])`)).rejects.toMatchObject({ message: "hubsync: deals has never been enabled" });
    await expect(db.pool.query(`select hubsync.refresh('owners', array['1'])`)).rejects.toMatchObject({ hint: expect.stringContaining("enable_sync") });
    const many = Array.from({ length: 1001 }, (_, i) => String(i + 1));
    await expect(db.pool.query(`select hubsync.refresh('contacts', $1::text[])`, [many])).rejects.toMatchObject({ hint: expect.stringContaining("resync") });
    // analysts may not spend the portal's calls
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      await client.query("set local role hubspot_reader");
      await expect(client.query(`select hubsync.refresh('contacts', array['1'])`)).rejects.toThrow(/permission denied/);
    } finally {
      await client.query("rollback");
      client.release();
    }
    const bad = await runCli(["refresh", "contacts", "12x"], { DATABASE_URL: db.url });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("whole numbers");
    const none = await runCli(["refresh", "contacts"], { DATABASE_URL: db.url });
    expect(none.code).toBe(2);
  });

  it("without a worker the shell command stops waiting, says why, and the request stays queued", async () => {
    await worker?.stop();
    worker = null;
    const r = await runCli(["refresh", "--timeout", "1", "contacts", contacts[4]!], { DATABASE_URL: db.url });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not done after 1 s .*stays queued.*worker/);
    const { rows } = await db.pool.query(`select count(*)::int as n from hubsync.refresh_requests where done_at is null`);
    expect(rows[0].n).toBe(1);
  });

  it("done requests leave after retention.refresh_requests_days; a waiting one stays", async () => {
    await db.pool.query(`update hubsync.refresh_requests set done_at = now() - interval '8 days' where done_at is not null`);
    const result = await prune(db.pool, quietLog);
    expect(result.deleted.refresh_requests).toBe(2);
    const { rows } = await db.pool.query(`select done_at from hubsync.refresh_requests`);
    expect(rows).toEqual([{ done_at: null }]);
  });
});
