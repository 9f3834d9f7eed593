import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { percentile, waitFor } from "../src/tools/shared/wait.ts";
import { startWorkerProcess, type WorkerProcess } from "../src/tools/shared/worker-process.ts";
import { freePort } from "../src/tools/shared/local-postgres.ts";
import { compareWithSimulator } from "../src/tools/verify/compare.ts";
import { WEBHOOK_PATH } from "../src/core/webhooks/receiver.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { enableSync } from "./support/worker.ts";
import { runCli } from "./support/cli.ts";
import { testSimulator, type TestSimulator } from "./support/simulator.ts";
import { SECRET } from "./support/webhooks.ts";

// End to end, as deployed: `hubsync worker --webhooks-port N` in its own process, the simulator (Pro
// tier, real rate limits) sending signed webhook batches of every change to it. The worker has no
// crontab, so nothing but the webhooks brings changes in. The tests wait for each change with
// generous limits; how fast changes arrive is `hubsync bench`'s to measure (its webhook scenario),
// the figures printed here are shown only when a test fails.

let db: TestDatabase;
let sim: TestSimulator;
let worker: WorkerProcess | null = null;
let port = 0;
const dir = mkdtempSync(join(tmpdir(), "hubsync-webhooks-e2e-"));
const logFile = join(dir, "worker.log");

const until = <T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000) =>
  waitFor(what, async () => (await fn()) || undefined, { timeoutMs, intervalMs: 100, describe: () => tail() });

const tail = () => {
  try {
    return readFileSync(logFile, "utf8").split("\n").slice(-30).join("\n");
  } catch {
    return "";
  }
};

/** The simulator's webhook batches close after this many ms (HubSpot-like) or 100 events. */
const BATCH_WINDOW_MS = 100;
const sendWebhooks = (batchWindowMs: number) =>
  sim.control.configureWebhooks({ targetUrl: `http://127.0.0.1:${port}${WEBHOOK_PATH}`, secret: SECRET, retryDelayMs: 200, batchWindowMs });

beforeAll(async () => {
  db = await installedDatabase("webhooks_e2e");
  sim = await testSimulator({ tier: "pro", rateLimits: {} });
  for (let i = 0; i < 80; i++) await sim.control.createRecord("contacts", { email: `e${i}@example.com`, firstname: `E${i}` });
  for (let i = 0; i < 5; i++) await sim.control.createRecord("companies", { name: `Co ${i}` });
  await enableSync(db.pool, "contacts");
  await enableSync(db.pool, "companies");

  const crontab = join(dir, "crontab");
  writeFileSync(crontab, "# webhooks only\n");
  port = await freePort();
  // startWorkerProcess hands this process's environment to the worker
  Object.assign(process.env, { HUBSPOT_WEBHOOK_SECRET: SECRET, HUBSYNC_CRONTAB: crontab, HUBSYNC_LOG_LEVEL: "info" });
  worker = startWorkerProcess({
    databaseUrl: db.url,
    hubspotUrl: sim.url,
    token: sim.token,
    logFile,
    concurrency: 3,
    args: ["--webhooks-port", String(port), "--webhooks-host", "127.0.0.1"],
  });
  await until("contacts and companies to be live", async () => {
    const { rows } = await db.pool.query(`select count(*)::int as n from hubsync.objects where phase = 'live'`);
    return rows[0].n === 2;
  });
  await until("the receiver to answer", async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.status === 200);
  await sendWebhooks(BATCH_WINDOW_MS);
}, 60_000);

const savedEnv = { HUBSPOT_WEBHOOK_SECRET: process.env.HUBSPOT_WEBHOOK_SECRET, HUBSYNC_CRONTAB: process.env.HUBSYNC_CRONTAB, HUBSYNC_LOG_LEVEL: process.env.HUBSYNC_LOG_LEVEL };

afterAll(async () => {
  for (const [k, v] of Object.entries(savedEnv)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  const code = await worker?.stop();
  await sim?.close();
  await db?.drop();
  expect(code).toBe(0);
});

type Expectation = { label: string; id: string; firstname: string | null; at: number; seen?: number };

describe("real time through webhooks", () => {
  it("every change made in HubSpot reaches Postgres through the webhooks alone: 60 creates, updates and archives spread in time", async () => {
    const live = (await sim.control.listRecords("contacts")).map((r) => r.id);
    const pending: Expectation[] = [];
    const done: Expectation[] = [];
    let stop = false;
    let deadline = Infinity;
    // One query every 20 ms over everything still outstanding: when did each change become visible?
    const poller = (async () => {
      while (!stop || pending.length > 0) {
        if (pending.length > 0) {
          const { rows } = await db.pool.query<{ id: string; firstname: string | null }>(`select id, firstname from hubspot.contacts where id = any($1)`, [pending.map((p) => p.id)]);
          const now = Date.now();
          const byId = new Map(rows.map((r) => [r.id, r.firstname]));
          for (const p of [...pending]) {
            const ok = p.firstname === null ? !byId.has(p.id) : byId.get(p.id) === p.firstname;
            if (ok) {
              p.seen = now;
              done.push(p);
              pending.splice(pending.indexOf(p), 1);
            }
          }
        }
        if (stop && Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const before = (await sim.control.counters()).total;
    const CHANGES = 60;
    // batches cut after 25 ms: the trickle can then be four times denser than with HubSpot's window
    // and still send each change in a batch of its own or with a neighbour
    await sendWebhooks(25);
    for (let i = 0; i < CHANGES; i++) {
      const at = Date.now();
      if (i % 10 === 0) {
        const r = await sim.control.createRecord("contacts", { email: `new${i}@example.com`, firstname: `Created ${i}` });
        pending.push({ label: "create", id: r.id, firstname: `Created ${i}`, at });
      } else if (i % 10 === 5) {
        const id = live.pop()!;
        await sim.control.archiveRecord("contacts", id);
        pending.push({ label: "archive", id, firstname: null, at });
      } else {
        const id = live.pop()!;
        await sim.control.updateRecord("contacts", id, { firstname: `Updated ${i}` });
        pending.push({ label: "update", id, firstname: `Updated ${i}`, at });
      }
      // spread over ~2.5 s, not in one burst: each change is its own webhook batch (25 ms window) or
      // shares one with a neighbour
      await new Promise((r) => setTimeout(r, 25 + (i % 3) * 12));
    }
    await sendWebhooks(BATCH_WINDOW_MS);
    stop = true;
    deadline = Date.now() + 45_000;
    await poller;
    expect(pending.map((p) => `${p.label} ${p.id}`), tail()).toEqual([]);

    const latencies = done.map((d) => d.seen! - d.at);
    const byKind = (kind: string) => done.filter((d) => d.label === kind).map((d) => d.seen! - d.at);
    const fmt = (xs: number[]) => `p50 ${percentile(xs, 50)} ms, p95 ${percentile(xs, 95)} ms, max ${Math.max(...xs)} ms (n=${xs.length})`;
    const calls = (await sim.control.counters()).total - before;
    const stats = await sim.control.webhookStats();
    const inbox = await db.pool.query(`select pending, failed, done, ignored, lag_p50_ms, lag_p95_ms from hubsync.webhook_status`);
    console.log(
      `webhooks end to end, change in the simulator → row in Postgres: ${fmt(latencies)}\n` +
        `  creates ${fmt(byKind("create"))}; updates ${fmt(byKind("update"))}; archives ${fmt(byKind("archive"))}\n` +
        `  simulator sender: ${stats.sent} requests, ${stats.delivered} batches delivered, ${stats.failed} failed, ${stats.eventsDelivered} events\n` +
        `  HubSpot API calls made by hubsync: ${calls} (${(calls / CHANGES).toFixed(2)} per change)\n` +
        `  hubsync.webhook_status: ${JSON.stringify(inbox.rows[0])}`,
    );
    expect(done).toHaveLength(CHANGES);
    expect(stats.failed).toBe(0);

    const comparison = await compareWithSimulator(db.pool, sim.control, ["contacts", "companies"]);
    expect(comparison.ok, comparison.summary).toBe(true);

    // the operator's view: `hubsync status` says webhooks are arriving and nothing is stuck
    const status = await runCli(["status"], { DATABASE_URL: db.url });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^webhooks: last event \d+s ago; 0 waiting; 0 failed; change → row p95 \d+ ms \(last hour\)$/m);
  }, 90_000);

  it("association changes and merges made in the simulator arrive too, and the copy matches record by record", async () => {
    await until("the contact-company association table to be filled", async () => {
      const { rows } = await db.pool.query(`select 1 from hubsync.association_pairs where table_name = 'associations_company_contact' and backfilled_at is not null`);
      return rows.length === 1;
    });
    const [a, b, c] = (await sim.control.listRecords("contacts")).map((r) => r.id);
    const company = (await sim.control.listRecords("companies"))[0]!.id;
    const at = Date.now();
    await sim.control.associate("contacts", a!, "companies", company);
    await until("the association row", async () =>
      (await db.pool.query(`select 1 from hubspot.associations_company_contact where contact_id = $1 and company_id = $2`, [a, company])).rowCount === 1,
    );
    const associated = Date.now() - at;
    await sim.control.associate("contacts", b!, "companies", company);
    const merging = Date.now();
    const mergedId = (await sim.control.mergeRecords("contacts", c!, b!)).id;
    await until("the merge", async () => (await db.pool.query(`select 1 from hubsync.merges where merged_id = $1 and winner_id = $2`, [b, mergedId])).rowCount === 1);
    const merged = Date.now() - merging;
    await sim.control.unassociate("contacts", a!, "companies", company);
    const result = await waitFor(
      "the copy to match, associations included",
      async () => {
        const r = await compareWithSimulator(db.pool, sim.control, ["contacts", "companies"], { associations: true });
        return r.ok ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, describe: async () => (await compareWithSimulator(db.pool, sim.control, ["contacts", "companies"], { associations: true })).summary },
    );
    console.log(`webhooks: association → row ${associated} ms, merge → hubsync.merges ${merged} ms; ${result.summary}`);
    expect(result.ok).toBe(true);
  }, 90_000);

  it("a burst of 500 changes (an import, a workflow) is applied, every record at its last value", async () => {
    const ids = (await sim.control.listRecords("contacts")).map((r) => r.id);
    const before = (await sim.control.counters()).total;
    const started = Date.now();
    for (let i = 0; i < 500; i++) await sim.control.updateRecord("contacts", ids[i % ids.length]!, { firstname: `Burst ${i}` });
    const made = Date.now() - started;
    const expected = new Map<string, string>();
    for (let i = 0; i < 500; i++) expected.set(ids[i % ids.length]!, `Burst ${i}`);
    await until("the burst to be applied", async () => {
      const { rows } = await db.pool.query<{ id: string; firstname: string }>(`select id, firstname from hubspot.contacts where id = any($1)`, [[...expected.keys()]]);
      return rows.length === expected.size && rows.every((r) => expected.get(r.id) === r.firstname);
    }, 60_000);
    const applied = Date.now() - started;
    const calls = (await sim.control.counters()).total - before;
    const stats = await sim.control.webhookStats();
    console.log(
      `webhooks burst: 500 changes made in ${made} ms, all in Postgres ${applied} ms after the first; ` +
        `${calls} HubSpot API calls by hubsync (${stats.sent} webhook requests in all, ${stats.failed} failed)`,
    );
    expect(stats.failed).toBe(0);
  }, 90_000);
});
