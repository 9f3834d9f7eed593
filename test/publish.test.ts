import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { createHubSpotApi, type HubSpotApi } from "../src/core/hubspot/client.ts";
import { createLogger } from "../src/core/log.ts";
import { writePropertyCatalog } from "../src/core/schema/property-catalog.ts";
import { startWorker, type RunningWorker } from "../src/core/worker/runner.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { drained } from "./support/push.ts";
import { waitFor } from "../src/tools/shared/wait.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let hubspot: HubSpotApi;
let worker: RunningWorker;
const emptyCrontab = join(mkdtempSync(join(tmpdir(), "hubsync-publish-")), "crontab");
writeFileSync(emptyCrontab, "# no schedules in this test\n");
const log = createLogger({ level: process.env.PUBLISH_TEST_LOG ?? "silent" });

type Rec = { id: string; properties: Record<string, string | null>; archived?: boolean };
const contacts = async () => (await sim.control.listRecords("contacts")) as Rec[];
const byEmail = async (email: string) => (await contacts()).find((r) => r.properties.email === email);
/** HubSpot API requests the simulator served since `since` (a request count). */
const callsSince = async (since: number) => (await sim.control.requests()).slice(since);
const requestCount = async () => (await sim.control.requests()).length;

/** Waits until the publication has run since `after` and the outbox is drained. */
async function settled(name: string, after: Date): Promise<void> {
  await waitFor(
    `a run of ${name}`,
    async () => {
      const r = await db.pool.query(`select last_run_at > $2 as ran, last_error from hubsync.publication_config where name = $1`, [name, after]);
      if (r.rows[0]?.last_error) throw new Error(`publication ${name} failed: ${r.rows[0].last_error}`);
      return r.rows[0]?.ran ? true : undefined;
    },
    { timeoutMs: 30_000 },
  );
  await drained(db.pool, 30_000);
}

async function publicationRow(name: string) {
  return (await db.pool.query(`select rows_sent, rows_rejected, rows_unmatched, rows_pending, last_error from hubsync.publications where name = $1`, [name])).rows[0];
}

beforeAll(async () => {
  db = await installedDatabase("publish");
  sim = await startSimulator({ rateLimits: false });
  hubspot = createHubSpotApi({ accessToken: sim.token, basePath: sim.url, pool: db.pool, log });
  await sim.control.createProperty("contacts", { name: "lead_score", type: "number", label: "Lead score" });
  await sim.control.createProperty("contacts", {
    name: "lead_tier",
    type: "enumeration",
    fieldType: "select",
    label: "Lead tier",
    options: ["hot", "warm", "cold"].map((v) => ({ label: v, value: v })),
  });
  await sim.control.createProperty("contacts", { name: "customer_code", type: "string", label: "Customer code", hasUniqueValue: true });
  // what discovery keeps of the types' properties (src/core/schema/discover.ts)
  for (const t of ["contacts", "companies"]) await writePropertyCatalog(db.pool, t, await hubspot.properties(t));
  await db.pool.query(`create schema analytics`);
  process.env.DATABASE_URL = db.url;
  process.env.HUBSPOT_ACCESS_TOKEN = sim.token;
  process.env.HUBSPOT_BASE_URL = sim.url;
  worker = await startWorker({ databaseUrl: db.url, crontabFile: emptyCrontab, log, concurrency: 2 });
});

afterAll(async () => {
  await worker?.stop();
  hubspot?.close();
  await sim?.close();
  await db?.drop();
});

describe("hubsync.publish refuses what HubSpot could not do, with a hint", () => {
  beforeAll(async () => {
    await db.pool.query(`create table analytics.people (email text primary key, firstname text, lead_score numeric, customer_code text)`);
  });

  const refusal = async (sql: string) => {
    const err = await db.pool.query(sql).then(
      () => null,
      (e: { message: string; hint?: string; code?: string }) => e,
    );
    expect(err, sql).not.toBeNull();
    expect(err!.code).toBe("22023");
    return `${err!.message}\n${err!.hint ?? ""}`;
  };

  it("a match key that is not unique in HubSpot, naming the ones that are", async () => {
    const text = await refusal(`select hubsync.publish('p', 'analytics.people', 'contacts', 'firstname', 'upsert')`);
    expect(text).toContain("firstname cannot identify contacts records");
    expect(text).toContain("customer_code");
    expect(text).toContain("hasUniqueValue");
  });

  it("creating records keyed by hs_object_id, an unknown mode, an unknown property, an undiscovered type", async () => {
    await db.pool.query(`create table analytics.by_id (hs_object_id text, lead_score numeric)`);
    expect(await refusal(`select hubsync.publish('p', 'analytics.by_id', 'contacts', 'hs_object_id', 'upsert')`)).toContain("ids of its own");
    expect(await refusal(`select hubsync.publish('p', 'analytics.people', 'contacts', 'email', 'merge')`)).toContain("'update' changes existing records only");
    const unknown = await refusal(`select hubsync.publish('p', 'analytics.people', 'contacts', 'email', 'upsert', '{"email": "email", "lead_score": "lead_scor"}')`);
    expect(unknown).toContain("PROPERTY_DOESNT_EXIST");
    expect(await refusal(`select hubsync.publish('p', 'analytics.people', 'deals', 'hs_object_id', 'update')`)).toContain("hubsync.enable_sync('deals')");
    const readOnly = await refusal(`select hubsync.publish('p', 'analytics.people', 'contacts', 'email', 'upsert', '{"email": "email", "firstname": "createdate"}')`);
    expect(readOnly).toContain("READ_ONLY_VALUE");
    expect((await db.pool.query(`select count(*)::int as n from hubsync.publication_config`)).rows[0].n).toBe(0);
  });
});

describe("modes", () => {
  it("upsert: a table's rows become records by email after each commit; a second run with no change makes no call", async () => {
    await db.pool.query(`create table analytics.leads (email text primary key, firstname text, score numeric)`);
    await db.pool.query(`insert into analytics.leads select 'lead' || g || '@pub.test', 'Lead ' || g, g from generate_series(1, 250) g`);
    const before = new Date();
    const started = await requestCount();
    await db.pool.query(`select hubsync.publish('leads', 'analytics.leads', 'contacts', 'email', 'upsert', '{"email": "email", "firstname": "firstname", "score": "lead_score"}')`);
    await settled("leads", before);
    const recs = (await contacts()).filter((r) => r.properties.email?.endsWith("@pub.test"));
    expect(recs).toHaveLength(250);
    expect(recs.find((r) => r.properties.email === "lead7@pub.test")!.properties).toMatchObject({ firstname: "Lead 7", lead_score: "7" });
    const calls = await callsSince(started);
    // 3 upserts of up to 100, and the property definitions read once
    expect(calls.filter((c) => c.path.includes("/batch/upsert"))).toHaveLength(3);
    expect(await publicationRow("leads")).toMatchObject({ rows_sent: "250", rows_rejected: "0", rows_pending: "0" });

    // a change to one row sends that row only
    const mark = await requestCount();
    const t1 = new Date();
    await db.pool.query(`update analytics.leads set score = 99 where email = 'lead3@pub.test'`);
    await settled("leads", t1);
    const oneCall = (await callsSince(mark)).filter((c) => c.method === "POST");
    expect(oneCall).toHaveLength(1);
    expect((await byEmail("lead3@pub.test"))!.properties.lead_score).toBe("99");

    // a commit that changes nothing the publication sends: the run queues nothing, HubSpot hears nothing
    const quiet = await requestCount();
    const t2 = new Date();
    await db.pool.query(`update analytics.leads set score = score where email = 'lead4@pub.test'`);
    await settled("leads", t2);
    await new Promise((r) => setTimeout(r, 500));
    expect(await callsSince(quiet)).toEqual([]);
  });

  it("update: only existing records change; rows without a record are shown unmatched", async () => {
    const existing = await sim.control.createRecord("contacts", { email: "known@upd.test", firstname: "Old" });
    await db.pool.query(`create table analytics.upd (email text, firstname text)`);
    await db.pool.query(`insert into analytics.upd values ('known@upd.test', 'New'), ('nobody@upd.test', 'Ghost')`);
    const before = new Date();
    await db.pool.query(`select hubsync.publish('upd', 'analytics.upd', 'contacts', 'email', 'update')`);
    await settled("upd", before);
    expect((await sim.control.getRecord("contacts", existing.id))!.properties.firstname).toBe("New");
    expect(await byEmail("nobody@upd.test")).toBeUndefined();
    expect(await publicationRow("upd")).toMatchObject({ rows_sent: "1", rows_unmatched: "1" });
    const why = (await db.pool.query(`select error from hubsync.publish_state where publication = 'upd' and key = 'nobody@upd.test'`)).rows[0].error;
    expect(why).toContain("mode update creates none");
  });

  it("create_only: missing records are created, existing ones are left alone", async () => {
    const existing = await sim.control.createRecord("contacts", { email: "there@co.test", firstname: "Untouched" });
    await db.pool.query(`create table analytics.co (email text, firstname text)`);
    await db.pool.query(`insert into analytics.co values ('there@co.test', 'Overwritten?'), ('new@co.test', 'Fresh')`);
    const before = new Date();
    await db.pool.query(`select hubsync.publish('co', 'analytics.co', 'contacts', 'email', 'create_only')`);
    await settled("co", before);
    expect((await sim.control.getRecord("contacts", existing.id))!.properties.firstname).toBe("Untouched");
    expect((await byEmail("new@co.test"))!.properties.firstname).toBe("Fresh");
    expect(await publicationRow("co")).toMatchObject({ rows_sent: "2", rows_rejected: "0" });
  });

  it("mirror: a record whose row left the source is archived; with mirror_clear, its property is cleared instead", async () => {
    await db.pool.query(`create table analytics.mir (customer_code text, email text, lead_tier text)`);
    await db.pool.query(`insert into analytics.mir values ('C1', 'c1@mir.test', 'hot'), ('C2', 'c2@mir.test', 'warm'), ('C3', 'c3@mir.test', 'cold')`);
    const before = new Date();
    await db.pool.query(`select hubsync.publish('mir', 'analytics.mir', 'contacts', 'customer_code', 'mirror')`);
    await settled("mir", before);
    const c2 = (await byEmail("c2@mir.test"))!;
    expect(c2.properties.customer_code).toBe("C2");

    const t1 = new Date();
    await db.pool.query(`delete from analytics.mir where customer_code = 'C2'`);
    await settled("mir", t1);
    expect((await sim.control.getRecord("contacts", c2.id))!.archived).toBe(true);
    expect((await db.pool.query(`select count(*)::int as n from hubsync.publish_state where publication = 'mir'`)).rows[0].n).toBe(2);

    // the same publication changed to clear lead_tier instead (a changed configuration sends every row once)
    const t2 = new Date();
    await db.pool.query(`select hubsync.publish('mir', 'analytics.mir', 'contacts', 'customer_code', 'mirror', mirror_clear => 'lead_tier')`);
    await settled("mir", t2);
    const c3 = (await byEmail("c3@mir.test"))!;
    const t3 = new Date();
    await db.pool.query(`delete from analytics.mir where customer_code = 'C3'`);
    await settled("mir", t3);
    const after = (await sim.control.getRecord("contacts", c3.id))!;
    expect(after.archived).toBe(false);
    expect(after.properties.lead_tier ?? "").toBe("");
  });

  it("update by hs_object_id", async () => {
    const rec = await sim.control.createRecord("contacts", { email: "byid@pub.test", firstname: "A" });
    await db.pool.query(`create table analytics.ids (hs_object_id bigint, firstname text)`);
    await db.pool.query(`insert into analytics.ids values ($1, 'By id')`, [rec.id]);
    const before = new Date();
    await db.pool.query(`select hubsync.publish('ids', 'analytics.ids', 'contacts', 'hs_object_id', 'update')`);
    await settled("ids", before);
    expect((await sim.control.getRecord("contacts", rec.id))!.properties.firstname).toBe("By id");
  });

  it("companies matched on domain, which HubSpot does not keep unique: found by a search, created once", async () => {
    const acme = await sim.control.createRecord("companies", { name: "Acme (old)", domain: "acme.test" });
    await db.pool.query(`create table analytics.accounts (domain text, name text)`);
    await db.pool.query(`insert into analytics.accounts values ('acme.test', 'Acme'), ('globex.test', 'Globex')`);
    const before = new Date();
    await db.pool.query(`select hubsync.publish('accounts', 'analytics.accounts', 'companies', 'domain', 'upsert')`);
    await settled("accounts", before);
    const companies = (await sim.control.listRecords("companies")) as Rec[];
    expect((await sim.control.getRecord("companies", acme.id))!.properties.name).toBe("Acme");
    expect(companies.filter((c) => c.properties.domain === "globex.test")).toHaveLength(1);
    expect(companies.filter((c) => c.properties.domain === "acme.test")).toHaveLength(1);
  });
});

describe("rejections, plans and views", () => {
  it("a row HubSpot refuses is kept with the reason and sent again once the row changes", async () => {
    await db.pool.query(`create table analytics.tiers (email text, lead_tier text)`);
    await db.pool.query(`insert into analytics.tiers values ('t1@rej.test', 'hot'), ('t2@rej.test', 'lukewarm')`);
    const before = new Date();
    await db.pool.query(`select hubsync.publish('tiers', 'analytics.tiers', 'contacts', 'email', 'upsert')`);
    await settled("tiers", before);
    expect(await byEmail("t1@rej.test")).toBeDefined();
    expect(await byEmail("t2@rej.test")).toBeUndefined();
    expect(await publicationRow("tiers")).toMatchObject({ rows_sent: "1", rows_rejected: "1" });
    const state = (await db.pool.query(`select status, error from hubsync.publish_state where publication = 'tiers' and key = 't2@rej.test'`)).rows[0];
    expect(state.status).toBe("rejected");
    expect(state.error).toContain("lukewarm was not one of the allowed options");
    expect((await db.pool.query(`select status, error_message from hubsync.outbox where publication = 'tiers' and status = 'rejected'`)).rows).toHaveLength(1);

    // nothing changed: not sent again
    const quiet = await requestCount();
    await db.pool.query(`select hubsync._publish_run('tiers')`);
    expect((await db.pool.query(`select count(*)::int as n from hubsync.outbox where publication = 'tiers' and status = 'pending'`)).rows[0].n).toBe(0);
    // the fix goes out
    const t1 = new Date();
    await db.pool.query(`update analytics.tiers set lead_tier = 'warm' where email = 't2@rej.test'`);
    await settled("tiers", t1);
    expect((await byEmail("t2@rej.test"))!.properties.lead_tier).toBe("warm");
    expect(await publicationRow("tiers")).toMatchObject({ rows_sent: "2", rows_rejected: "0" });
    // the old rejection is settled, not left counted
    expect((await db.pool.query(`select status from hubsync.outbox where publication = 'tiers' and local_id = hubsync._publish_local_id('tiers', 't2@rej.test') order by id`)).rows.map((r) => r.status)).toEqual(["superseded", "sent"]);
    expect((await callsSince(quiet)).filter((c) => c.path.includes("/batch/"))).toHaveLength(1);
  });

  it("hubsync.plan and `hubsync publish --dry-run` show creates, updates, archives and refusals, and send nothing", async () => {
    await db.pool.query(`create table analytics.planned (email text, lead_tier text, lead_score text)`);
    await db.pool.query(`insert into analytics.planned values ('p1@plan.test', 'hot', '1'), ('p2@plan.test', 'boiling', 'x'), ('lead1@pub.test', 'cold', '5')`);
    // a schedule far away, and its first run taken back before the worker sees it: the plan is looked at before any run
    await db.pool.query(`begin;
      select hubsync.publish('planned', 'analytics.planned', 'contacts', 'email', 'upsert', schedule => '0 0 1 1 *');
      select hubsync_worker.remove_job('hubsync_publish:planned');
      commit`);
    const mark = await requestCount();
    const plan = (await db.pool.query(`select action, key, problems from hubsync.plan('planned') order by key`)).rows;
    expect(plan.map((r) => r.key)).toEqual(["lead1@pub.test", "p1@plan.test", "p2@plan.test"]);
    expect(plan.find((r) => r.key === "p1@plan.test")).toMatchObject({ action: "create", problems: null });
    const bad = plan.find((r) => r.key === "p2@plan.test")!;
    expect(bad.problems.join("\n")).toContain("INVALID_OPTION");
    expect(bad.problems.join("\n")).toContain("INVALID_NUMBER");

    const { runCli, runMain } = await import("./support/cli.ts");
    // the dry runs in this process (what they print and return is main's); the real run below in a
    // process of its own, as an operator starts it beside the worker
    const out = await runMain(["publish", "--dry-run", "planned"], { DATABASE_URL: db.url });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain("3 row(s) to send");
    expect(out.stdout).toContain("boiling was not one of the allowed options");
    expect(out.stdout).toContain("nothing was sent");
    expect(await callsSince(mark)).toEqual([]);
    expect((await db.pool.query(`select count(*)::int as n from hubsync.outbox where publication = 'planned'`)).rows[0].n).toBe(0);

    const unknown = await runMain(["publish", "--dry-run", "nope"], { DATABASE_URL: db.url });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no publication named 'nope'");

    // without --dry-run it runs now (the worker running here may send the changes before the command's own push does)
    const ran = await runCli(["publish", "planned"], { DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url });
    expect(ran.stdout, ran.stderr).toContain("3 row(s) read, 3 queued");
    await drained(db.pool, 30_000);
    expect((await byEmail("p1@plan.test"))!.properties.lead_tier).toBe("hot");
    expect((await db.pool.query(`select status from hubsync.publish_state where publication = 'planned' and key = 'p2@plan.test'`)).rows[0].status).toBe("rejected");
  });

  it("a view as the source, run by the minute sweep", async () => {
    await db.pool.query(`create table analytics.events (email text, points int)`);
    await db.pool.query(`insert into analytics.events select 'v' || (g % 5) || '@view.test', g from generate_series(1, 50) g`);
    await db.pool.query(`create view analytics.lead_scores as select email, sum(points)::int as lead_score from analytics.events group by email`);
    const before = new Date();
    await db.pool.query(`select hubsync.publish('lead_scores', 'analytics.lead_scores', 'contacts', 'email', 'upsert')`);
    await settled("lead_scores", before);
    expect((await byEmail("v0@view.test"))!.properties.lead_score).toBe(String([5, 10, 15, 20, 25, 30, 35, 40, 45, 50].reduce((a, b) => a + b)));
    // no trigger on a view: the crontab's sweep queues it
    await db.pool.query(`insert into analytics.events values ('v1@view.test', 1000)`);
    const t1 = new Date();
    await db.pool.query(`select hubsync_worker.add_job('hubsync_publish', '{}'::json, job_key := 'hubsync_publish')`);
    await settled("lead_scores", t1);
    expect((await byEmail("v1@view.test"))!.properties.lead_score).toBe(String(1 + 6 + 11 + 16 + 21 + 26 + 31 + 36 + 41 + 46 + 1000));
    expect((await db.pool.query(`select schedule from hubsync.publications where name = 'lead_scores'`)).rows[0].schedule).toBe("every minute");
  });

  it("unpublish stops it: no trigger, no state, queued changes dropped", async () => {
    expect((await db.pool.query(`select hubsync.unpublish('leads') as ok`)).rows[0].ok).toBe(true);
    expect((await db.pool.query(`select hubsync.unpublish('leads') as ok`)).rows[0].ok).toBe(false);
    const mark = await requestCount();
    await db.pool.query(`update analytics.leads set score = 1`);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await callsSince(mark)).toEqual([]);
    expect((await db.pool.query(`select count(*)::int as n from hubsync.publish_state where publication = 'leads'`)).rows[0].n).toBe(0);
  });
});
