import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../src/tools/shared/wait.ts";
import { startWorkerProcess, type WorkerProcess } from "../src/tools/shared/worker-process.ts";
import { freePort } from "../src/tools/shared/local-postgres.ts";
import { WEBHOOK_PATH } from "../src/core/webhooks/receiver.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { testSimulator, type TestSimulator } from "./support/simulator.ts";
import { SECRET } from "./support/webhooks.ts";
import { scrape, type Scrape } from "./support/prometheus.ts";
import { ALERT_KINDS } from "../src/core/operations/metrics.ts";

// `hubsync worker --metrics-port N --webhooks-port M` as deployed, scraped while it backfills,
// pushes a local change and applies a webhook, each scrape parsed with a Prometheus text-format
// parser. The database-wide figures must agree with the tables they summarise.

let db: TestDatabase;
let sim: TestSimulator;
let worker: WorkerProcess | null = null;
let metricsUrl = "";
const dir = mkdtempSync(join(tmpdir(), "hubsync-metrics-"));
const logFile = join(dir, "worker.log");
const tail = () => {
  try {
    return readFileSync(logFile, "utf8").split("\n").slice(-30).join("\n");
  } catch {
    return "";
  }
};
const until = <T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 40_000) =>
  waitFor(what, async () => (await fn()) || undefined, { timeoutMs, intervalMs: 100, describe: () => tail() });

const CONTACTS = 60;

beforeAll(async () => {
  db = await installedDatabase("metrics");
  sim = await testSimulator({ tier: "pro", rateLimits: {} });
  for (let i = 0; i < CONTACTS; i++) await sim.control.createRecord("contacts", { email: `m${i}@example.com`, firstname: `M${i}` });
  const [webhooksPort, metricsPort] = [await freePort(), await freePort()];
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  worker = startWorkerProcess({
    databaseUrl: db.url,
    hubspotUrl: sim.url,
    token: sim.token,
    logFile,
    concurrency: 3,
    args: ["--webhooks-port", String(webhooksPort), "--webhooks-host", "127.0.0.1", "--metrics-port", String(metricsPort), "--metrics-host", "127.0.0.1"],
    env: { HUBSPOT_WEBHOOK_SECRET: SECRET, HUBSYNC_LOG_LEVEL: "info" },
  });
  await until("the metrics server", async () => (await fetch(metricsUrl).catch(() => null))?.status === 200);
  await sim.control.configureWebhooks({ targetUrl: `http://127.0.0.1:${webhooksPort}${WEBHOOK_PATH}`, secret: SECRET, retryDelayMs: 200 });
}, 60_000);

afterAll(async () => {
  const code = await worker?.stop();
  await sim?.close();
  await db?.drop();
  expect(code).toBe(0);
});

const one = async <T>(sql: string, params: unknown[] = []): Promise<T> => (await db.pool.query(sql, params)).rows[0] as T;

describe("GET /metrics of a running worker", () => {
  let last: Scrape;

  it("scraped all through a backfill: the pulled records only grow, and end as hubsync.runs counts them", async () => {
    const before = await scrape(metricsUrl);
    expect(before.value("hubsync_up", { component: "worker" })).toBe(1);
    expect(before.value("hubsync_records_pulled_total", { object_type: "contacts" })).toBeUndefined();

    await db.pool.query("select hubsync.enable_sync('contacts', null, true)");
    const seen: number[] = [];
    await until("contacts live, scraping meanwhile", async () => {
      last = await scrape(metricsUrl);
      seen.push(last.value("hubsync_records_pulled_total", { object_type: "contacts" }) ?? 0);
      return (await one<{ phase: string }>("select phase from hubsync.objects where object_type = 'contacts'")).phase === "live";
    });
    last = await scrape(metricsUrl);
    seen.push(last.value("hubsync_records_pulled_total", { object_type: "contacts" }) ?? 0);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));

    // hubsync.runs and a scrape agree (tried again should a run end between the two reads)
    const runsNow = () =>
      one<{ records: string; ok: string }>(
        `select (select sum(records) from hubsync.runs where object_type = 'contacts' and kind <> 'push' and status <> 'running') as records,
                (select count(*) from hubsync.runs where object_type = 'contacts' and status = 'ok') as ok`,
      );
    const runs = await until("a scrape that agrees with hubsync.runs, after the first pull", async () => {
      // the pull lag is absent until the first incremental pull after the backfill has run
      if ((await one<{ pulled: boolean }>("select last_pull_at is not null as pulled from hubsync.objects where object_type = 'contacts'")).pulled !== true) return false;
      const r = await runsNow();
      last = await scrape(metricsUrl);
      const again = await runsNow();
      return JSON.stringify(r) === JSON.stringify(again) && r;
    });
    expect(last.value("hubsync_records_pulled_total", { object_type: "contacts" })).toBe(Number(runs.records));
    expect(Number(runs.records)).toBeGreaterThanOrEqual(CONTACTS);
    expect(last.value("hubsync_runs_total", { object_type: "contacts", result: "ok" })).toBe(Number(runs.ok));
    expect(last.value("hubsync_runs_total", { result: "error" })).toBeUndefined();

    const budget = await one<{ requests: string; rate_limited: string; daily_limit: string | null }>(
      "select requests, rate_limited, daily_limit from hubsync.rate_budget where bucket = 'general'",
    );
    // the scrape and the query a moment apart: the worker may have called HubSpot in between
    expect(last.value("hubsync_hubspot_requests_total", { bucket: "general" })).toBeLessThanOrEqual(Number(budget.requests));
    expect(last.value("hubsync_hubspot_requests_total", { bucket: "general" })).toBeGreaterThan(0);
    expect(last.value("hubsync_hubspot_rate_limited_total", { bucket: "general" })).toBe(Number(budget.rate_limited));
    expect(last.value("hubsync_hubspot_responses_total", { status: "200" })).toBeGreaterThan(0);
    expect(last.value("hubsync_rate_budget_capacity", { bucket: "general" })).toBeGreaterThan(0);
    expect(last.value("hubsync_daily_quota_limit")).toBe(Number(budget.daily_limit));
    expect(last.value("hubsync_daily_quota_remaining")).toBeGreaterThan(0);
    expect(last.value("hubsync_pull_lag_seconds", { object_type: "contacts" })).toBeLessThan(120);
    expect(last.value("hubsync_workers_alive")).toBe(1);
    expect(last.value("hubsync_hubspot_paused", { reason: "daily" })).toBe(0);
    expect(last.value("hubsync_hubspot_paused", { reason: "auth" })).toBe(0);
    expect(last.value("hubsync_alerts_open")).toBe(0);
    expect(last.value("hubsync_metrics_database_up")).toBe(1);
    expect(last.families.get("hubsync_push_latency_seconds")?.help).toMatch(/Process-local/);
    expect(last.families.get("hubsync_records_pushed_total")?.type).toBe("COUNTER");
  });

  it("a local change: one record pushed, with its latency", async () => {
    const { id } = await one<{ id: string }>("select id from hubspot.contacts order by id limit 1");
    await db.pool.query("update hubspot.contacts set firstname = 'Metric' where id = $1", [id]);
    await until("the change sent", async () => (await one<{ n: number }>("select count(*)::int as n from hubsync.outbox where status = 'sent'")).n === 1);
    const s = await scrape(metricsUrl);
    expect(s.value("hubsync_records_pushed_total", { object_type: "contacts", op: "update", result: "sent" })).toBe(1);
    expect(s.value("hubsync_records_pushed_total", { result: "rejected" })).toBeUndefined();
    const latency = s.histogram("hubsync_push_latency_seconds");
    expect(latency?.count).toBe(1);
    expect(latency!.sum).toBeGreaterThan(0);
    expect(latency!.sum).toBeLessThan(60);
    expect((await sim.control.listRecords("contacts")).find((r) => r.id === id)?.properties.firstname).toBe("Metric");
  });

  it("a change in HubSpot arrives by webhook: the webhook lag histogram counts it", async () => {
    const before = (await scrape(metricsUrl)).histogram("hubsync_webhook_lag_seconds")?.count ?? 0;
    const { id } = await one<{ id: string }>("select id from hubspot.contacts order by id desc limit 1");
    await sim.control.updateRecord("contacts", id, { firstname: "Hooked" });
    await until("the webhook applied", async () => (await one<{ n: number }>("select count(*)::int as n from hubspot.contacts where id = $1 and firstname = 'Hooked'", [id])).n === 1);
    await until("the lag observed", async () => ((await scrape(metricsUrl)).histogram("hubsync_webhook_lag_seconds")?.count ?? 0) > before);
  });

  it("rejections, conflicts and a HubSpot pause show; the alerts gauge follows hubsync.alerts", async () => {
    await db.pool.query(
      `insert into hubsync.outbox (object_type, record_id, op, status, error_status, error_message) values ('contacts', '1', 'update', 'rejected', 400, 'bad value')`,
    );
    await db.pool.query(
      `insert into hubsync.conflicts (object_type, record_id, property, policy, winner) values ('contacts', '1', 'firstname', 'hubspot_wins', 'hubspot')`,
    );
    await db.pool.query(`select hubsync.rate_pause('auth', now() + interval '1 hour', 'HubSpot refused the access token')`);
    try {
      const s = await scrape(metricsUrl);
      expect(s.value("hubsync_records_pushed_total", { object_type: "contacts", result: "rejected" })).toBe(1);
      expect(s.value("hubsync_outbox_rejected", { object_type: "contacts" })).toBe(1);
      expect(s.value("hubsync_conflicts_total", { object_type: "contacts", winner: "hubspot" })).toBe(1);
      expect(s.value("hubsync_hubspot_paused", { reason: "auth" })).toBe(1);
      expect(s.value("hubsync_alerts_open", { kind: "hubspot_paused" })).toBe(1);
      expect(s.value("hubsync_alerts_open", { kind: "rejected_changes" })).toBe(1);
    } finally {
      await db.pool.query("select hubsync.rate_resume()");
      await db.pool.query("update hubsync.outbox set status = 'superseded' where status = 'rejected'");
    }
    // the total is a counter: the change leaving 'rejected' does not take it back
    const s = await scrape(metricsUrl);
    expect(s.value("hubsync_records_pushed_total", { object_type: "contacts", result: "rejected" })).toBe(1);
    expect(s.value("hubsync_outbox_rejected", { object_type: "contacts" })).toBeUndefined();
    expect(s.value("hubsync_hubspot_paused", { reason: "auth" })).toBe(0);
  });

  it("the README's metrics list, alert rules and dashboard name only metrics a worker serves; its alert table every kind", async () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## Operating hubsync"), readme.indexOf("\n## ", readme.indexOf("## Operating hubsync") + 1));
    const named = new Set([...section.matchAll(/\bhubsync_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, "")));
    const served = new Set((await scrape(metricsUrl)).families.keys());
    // not metrics: the schema, the NOTIFY channel, the table of the totals
    for (const other of ["hubsync_alerts", "hubsync_worker"]) named.delete(other);
    expect([...named].filter((n) => !served.has(n))).toEqual([]);
    expect(named.size).toBeGreaterThan(15);
    const dashboard = /```json\n([\s\S]*?)\n```/.exec(section)?.[1];
    expect(() => JSON.parse(dashboard ?? "")).not.toThrow();
    const kinds = [...section.matchAll(/^\| `([a-z_]+)` \(/gm)].map((m) => m[1]);
    expect(kinds).toEqual([...ALERT_KINDS]);
  });

  it("anything but GET /metrics is a 404", async () => {
    expect((await fetch(metricsUrl.replace("/metrics", "/"))).status).toBe(404);
  });
});
