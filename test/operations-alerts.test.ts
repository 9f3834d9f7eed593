import { describe, it, expect, beforeAll, afterAll, beforeEach } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { quietLog } from "./support/worker.ts";
import { checkAlerts, watchAlerts, type AlertWatch } from "../src/core/operations/alerts.ts";
import { livenessLock } from "../src/core/worker/liveness.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { freePort } from "../src/tools/shared/local-postgres.ts";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SECRET } from "./support/webhooks.ts";
import { scrape } from "./support/prometheus.ts";

// Each kind of alert hubsync.alerts knows is brought about the way production would show it,
// then put right: every open and every close is one NOTIFY hubsync_alerts and one POST to
// HUBSYNC_ALERT_WEBHOOK_URL (here a small HTTP server of the test's), never one per check.

interface Notice {
  kind: string;
  subject: string;
  transition: "open" | "close";
  message: string;
}
interface Post {
  text: string;
  kind: string;
  subject: string;
  state: "open" | "closed";
}

let db: TestDatabase;
let listener: pg.Client;
let target: Server;
let targetUrl: string;
let watch: AlertWatch;
const notices: Notice[] = [];
const posts: Post[] = [];
/** The kind of the test's own notifications that mark a point in the channel (see check()). */
const MARK = "test-mark";
const marks = new Set<string>();
/** Answers the target gives, first to last (then 200): a failing target is tried again later. */
const answers: number[] = [];

beforeAll(async () => {
  db = await installedDatabase("alerts");
  listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  listener.on("notification", (n) => {
    const notice = JSON.parse(n.payload ?? "{}") as Notice;
    if (notice.kind === MARK) marks.add(notice.subject);
    else notices.push(notice);
  });
  await listener.query("listen hubsync_alerts");
  target = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const status = answers.shift() ?? 200;
      if (status === 200) posts.push(JSON.parse(body) as Post);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => target.listen(0, "127.0.0.1", () => r()));
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/hook`;
  // the timer never fires within the test: each check is the test's own tick()
  watch = await watchAlerts({ pool: db.pool, log: quietLog, webhookUrl: targetUrl, intervalMs: 3_600_000 });
  await watch.tick();
});
afterAll(async () => {
  await watch?.stop();
  await listener?.end();
  await new Promise((r) => target?.close(r));
  await db?.drop();
});
beforeEach(() => {
  notices.length = 0;
  posts.length = 0;
});

/** Checks twice (the second check must change nothing), then returns what was notified and posted. */
async function check(): Promise<{ notices: Notice[]; posts: Post[] }> {
  await watch.tick();
  await watch.tick();
  // A NOTIFY arrives on the listener's connection a moment after the commit, and PostgreSQL
  // delivers notifications in commit order: once a mark sent now has arrived, every notice the
  // checks committed has too (and a check that wrongly sent a second one is seen).
  const mark = `mark-${marks.size + 1}`;
  await db.pool.query("select pg_notify('hubsync_alerts', $1)", [JSON.stringify({ kind: MARK, subject: mark })]);
  await waitFor("the mark sent after the checks", async () => (marks.has(mark) ? true : undefined), { timeoutMs: 10_000, intervalMs: 10 });
  const out = { notices: notices.splice(0), posts: posts.splice(0) };
  return out;
}

async function expectTransition(kind: string, subject: string, transition: "open" | "close", message?: RegExp): Promise<void> {
  const seen = await check();
  expect(seen.notices.map((n) => [n.kind, n.subject, n.transition])).toEqual([[kind, subject, transition]]);
  expect(seen.posts.map((p) => [p.kind, p.subject, p.state])).toEqual([[kind, subject, transition === "open" ? "open" : "closed"]]);
  expect(seen.posts[0]!.text).toContain(kind);
  if (message) expect(seen.notices[0]!.message).toMatch(message);
  const open = await db.pool.query("select kind, subject from hubsync.alert_state where kind = $1 and subject = $2", [kind, subject]);
  expect(open.rowCount).toBe(transition === "open" ? 1 : 0);
}

async function setting(name: string, value: string): Promise<void> {
  const res = await db.pool.query("select hubsync.set_setting($1, $2)", [name, value]);
  expect(res.rowCount).toBe(1);
}

describe("hubsync.alerts: one NOTIFY and one POST per open and per close", () => {
  it("starts quiet: a fresh install has nothing to say", async () => {
    expect((await db.pool.query("select * from hubsync.alerts")).rows).toEqual([]);
    expect(await check()).toEqual({ notices: [], posts: [] });
  });

  it("rejected changes: open while HubSpot's rejection waits for a person, closed by hubsync.retry_rejected", async () => {
    await db.pool.query(
      `insert into hubsync.outbox (object_type, record_id, op, changes, status, error_status, error_category, error_message)
       values ('contacts', '101', 'update', '{"email": "not-an-email"}', 'rejected', 400, 'VALIDATION_ERROR', 'Property values were not valid')`,
    );
    await expectTransition("rejected_changes", "contacts", "open", /Property values were not valid/);
    // a second rejection of the same type is the same alert: nothing new
    await db.pool.query(
      `insert into hubsync.outbox (object_type, record_id, op, changes, status, error_status, error_message) values ('contacts', '102', 'update', '{}', 'rejected', 400, 'bad')`,
    );
    expect(await check()).toEqual({ notices: [], posts: [] });
    expect((await db.pool.query("select hubsync.retry_rejected('contacts') as n")).rows[0].n).toBe(2);
    await expectTransition("rejected_changes", "contacts", "close");
    await db.pool.query("delete from hubsync.outbox");
  });

  it("a type in error for N minutes (alerts.error_minutes): not before, then open; a successful pull closes it", async () => {
    await db.pool.query("select hubsync.enable_sync('deals')");
    await db.pool.query(
      `update hubsync.objects set phase = 'live', last_pull_at = now() - interval '10 minutes', last_error = 'HTTP 500 from HubSpot', last_error_at = now()
        where object_type = 'deals'`,
    );
    // failing for 10 minutes, the threshold is 15
    expect(await check()).toEqual({ notices: [], posts: [] });
    await setting("alerts.error_minutes", "5");
    await expectTransition("type_error", "deals", "open", /HTTP 500 from HubSpot/);
    await db.pool.query("update hubsync.objects set last_pull_at = now(), last_error = null where object_type = 'deals'");
    await expectTransition("type_error", "deals", "close");
  });

  it("pulls behind by more than alerts.pull_lag_minutes", async () => {
    await db.pool.query("update hubsync.objects set last_pull_at = now() - interval '31 minutes' where object_type = 'deals'");
    await expectTransition("pull_lag", "deals", "open", /deals was last pulled/);
    await db.pool.query("update hubsync.objects set last_pull_at = now() where object_type = 'deals'");
    await expectTransition("pull_lag", "deals", "close");
  });

  it("a HubSpot pause: token refused, daily quota out, a missing scope", async () => {
    await db.pool.query(`select hubsync.rate_pause('auth', now() + interval '1 hour', 'HubSpot refused the access token (401)')`);
    await expectTransition("hubspot_paused", "auth", "open", /refused the access token/);
    await db.pool.query("select hubsync.rate_resume()");
    await expectTransition("hubspot_paused", "auth", "close");

    await db.pool.query(`select hubsync.rate_pause('daily', now() + interval '1 hour', 'daily quota used up')`);
    await expectTransition("hubspot_paused", "daily", "open", /daily quota used up/);
    await db.pool.query("select hubsync.rate_resume('daily')");
    await expectTransition("hubspot_paused", "daily", "close");

    // the sentence the client stores for a 403 MISSING_SCOPES (src/core/hubspot/retry.ts)
    await db.pool.query(
      `update hubsync.objects set last_error = 'HubSpot refused POST /crm/objects/2026-09/deals/search (403 MISSING_SCOPES): the token lacks scope crm.objects.deals.read', last_error_at = now()
        where object_type = 'deals'`,
    );
    await expectTransition("hubspot_paused", "scopes:deals", "open", /crm\.objects\.deals\.read/);
    await db.pool.query("update hubsync.objects set last_pull_at = now(), last_error = null where object_type = 'deals'");
    await expectTransition("hubspot_paused", "scopes:deals", "close");
  });

  it("the daily quota projected to run out, in the account's time zone the rate budget keeps", async () => {
    // a zone where it is now about noon: half the day gone, whatever time the test runs
    const offset = 12 - new Date().getUTCHours();
    const zone = offset === 0 ? "UTC" : `Etc/GMT${offset > 0 ? "-" : "+"}${Math.abs(offset)}`;
    await db.pool.query("update hubsync.rate_budget set daily_time_zone = $1 where bucket = 'general'", [zone]);
    const { rows } = await db.pool.query<{ elapsed: number }>(
      `select extract(epoch from (now() at time zone $1) - date_trunc('day', now() at time zone $1))::float8 as elapsed`,
      [zone],
    );
    const elapsedShare = rows[0]!.elapsed / 86_400;
    // on pace for 80% of the quota: quiet
    await db.pool.query("update hubsync.rate_budget set daily_limit = 10000, daily_remaining = $1, daily_seen_at = now() where bucket = 'general'", [
      Math.round(10_000 - 8_000 * elapsedShare),
    ]);
    expect(await check()).toEqual({ notices: [], posts: [] });
    // on pace for 150%
    await db.pool.query("update hubsync.rate_budget set daily_remaining = $1, daily_seen_at = now() where bucket = 'general'", [Math.round(10_000 - 15_000 * elapsedShare)]);
    await expectTransition("quota_projected", "daily", "open", /of 10000 daily HubSpot calls used/);
    // the quota reset (a new day's first answer)
    await db.pool.query("update hubsync.rate_budget set daily_remaining = 9990, daily_seen_at = now() where bucket = 'general'");
    await expectTransition("quota_projected", "daily", "close");
    // a zone PostgreSQL does not know: the day is UTC's, and the view still answers
    await db.pool.query("update hubsync.rate_budget set daily_time_zone = 'Mars/Olympus_Mons' where bucket = 'general'");
    expect((await db.pool.query("select kind from hubsync.alerts where kind = 'quota_projected'")).rows).toEqual([]);
    // the cases after this one are not about the quota: they check as a budget that has not yet
    // heard HubSpot's daily figures
    await db.pool.query("update hubsync.rate_budget set daily_limit = null, daily_remaining = null, daily_seen_at = null, daily_time_zone = null where bucket = 'general'");
  });

  it("webhook deliveries failing to apply for alerts.webhook_failing_minutes", async () => {
    const { rows } = await db.pool.query<{ id: string }>(
      `insert into hubsync.webhook_events (received_at, subscription_type, object_id, event, status, attempts, error)
       values (now() - interval '11 minutes', 'contact.propertyChange', '101', '{}', 'failed', 6, 'could not apply: relation is locked')
       returning id`,
    );
    await expectTransition("webhook_failing", "inbox", "open", /relation is locked/);
    await db.pool.query("update hubsync.webhook_events set status = 'done', processed_at = now() where id = $1", [rows[0]!.id]);
    await expectTransition("webhook_failing", "inbox", "close");
  });

  it("a dead worker: jobs held by a worker that is gone, and no worker running at all", async () => {
    // a worker pool that locked a job and died (no liveness lock held in its name)
    await db.pool.query("select hubsync_worker.add_job('hubsync_pull', json_build_object('objectType', 'deals'), job_key := 'hubsync_pull:deals')");
    await db.pool.query("update hubsync_worker._private_jobs set locked_by = 'worker-gone', locked_at = now() - interval '5 minutes' where key = 'hubsync_pull:deals'");
    const alive = livenessLock(db.url, quietLog);
    alive.hold("worker-alive");
    try {
      await waitFor("the liveness lock", async () => ((await db.pool.query("select hubsync._live_workers() as n")).rows[0].n === "1" ? true : undefined), { timeoutMs: 10_000 });
      await expectTransition("worker_dead", "pool:worker-gone", "open", /still holds 1 job/);
      // what a live worker's check does with it (src/core/worker/liveness.ts)
      await db.pool.query("select hubsync_worker.force_unlock_workers(array['worker-gone'])");
      await expectTransition("worker_dead", "pool:worker-gone", "close");

      // no worker at all while a type is enabled (deals, enabled longer ago than the setting)
      await setting("alerts.worker_dead_seconds", "0");
      expect(await check()).toEqual({ notices: [], posts: [] });
    } finally {
      await alive.close();
    }
    await expectTransition("worker_dead", "none running", "open", /no hubsync worker is running/);
    const back = livenessLock(db.url, quietLog);
    back.hold("worker-back");
    try {
      await waitFor("the liveness lock", async () => ((await db.pool.query("select hubsync._live_workers() as n")).rows[0].n === "1" ? true : undefined), { timeoutMs: 10_000 });
      await expectTransition("worker_dead", "none running", "close");
    } finally {
      await back.close();
    }
    await setting("alerts.worker_dead_seconds", "120");
    await watch.tick();
  });

  it("a post the target refuses is tried again with a backoff until it is taken, once", async () => {
    answers.push(500);
    await db.pool.query(`select hubsync.rate_pause('migration', now() + interval '1 hour', 'account being moved')`);
    const first = await check();
    expect(first.notices.map((n) => n.subject)).toEqual(["migration"]);
    expect(first.posts).toEqual([]);
    const { rows } = await db.pool.query("select attempts, delivered_at, last_error, next_attempt_at > now() as waits from hubsync.alert_events where subject = 'migration'");
    expect(rows).toEqual([{ attempts: 1, delivered_at: null, last_error: "HTTP 500", waits: true }]);
    // the backoff has passed
    await db.pool.query("update hubsync.alert_events set next_attempt_at = now() where subject = 'migration'");
    const second = await check();
    expect(second.notices).toEqual([]);
    expect(second.posts.map((p) => [p.subject, p.state])).toEqual([["migration", "open"]]);
    await db.pool.query("select hubsync.rate_resume()");
    await expectTransition("hubspot_paused", "migration", "close");
  });

  it("two processes checking at once record a transition once", async () => {
    await db.pool.query(`insert into hubsync.outbox (object_type, record_id, op, status, error_message) values ('companies', '7', 'update', 'rejected', 'bad')`);
    const [a, b] = await Promise.all([checkAlerts(db.pool), checkAlerts(db.pool)]);
    expect([...a, ...b].map((e) => [e.kind, e.subject, e.transition])).toEqual([["rejected_changes", "companies", "open"]]);
    await db.pool.query("delete from hubsync.outbox");
    await check();
  });

  it("with every worker down, `hubsync webhooks` raises \"no worker running\" on its own, and serves /metrics", async () => {
    await watch.stop();
    await setting("alerts.check_seconds", "1");
    await setting("alerts.worker_dead_seconds", "0");
    const [port, metricsPort] = [await freePort(), await freePort()];
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL("../src/cli/hubsync.ts", import.meta.url)), "webhooks", "--port", String(port), "--host", "127.0.0.1", "--metrics-port", String(metricsPort), "--metrics-host", "127.0.0.1"],
      { env: { ...process.env, DATABASE_URL: db.url, HUBSPOT_WEBHOOK_SECRET: SECRET, HUBSYNC_ALERT_WEBHOOK_URL: targetUrl }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      await waitFor("the receiver's alert post", async () => (posts.length > 0 ? true : undefined), { timeoutMs: 20_000, describe: () => out });
      expect(posts.map((p) => [p.kind, p.subject, p.state])).toEqual([["worker_dead", "none running", "open"]]);
      const s = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(s.value("hubsync_up", { component: "webhooks" })).toBe(1);
      expect(s.value("hubsync_workers_alive")).toBe(0);
      expect(s.value("hubsync_alerts_open", { kind: "worker_dead" })).toBe(1);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    // a clean stop says nothing at level 50
    expect(out).not.toMatch(/"level":50/);
  });

  it("the view and the settings explain themselves", async () => {
    const { rows } = await db.pool.query(
      `select obj_description('hubsync.alerts'::regclass, 'pg_class') as alerts, obj_description('hubsync.settings'::regclass, 'pg_class') as settings,
              (select count(*) from hubsync.settings where name like 'alerts.%' and description <> '') as described`,
    );
    expect(rows[0].alerts).toMatch(/needs a person/);
    expect(rows[0].settings).toMatch(/settings/);
    expect(Number(rows[0].described)).toBe(6);
  });
});
