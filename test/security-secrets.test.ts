import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { startWorkerProcess, type WorkerProcess } from "../src/tools/shared/worker-process.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { sign } from "../src/core/webhooks/signature.ts";
import { REDACTED_PATHS } from "../src/core/log.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { runCli, type CliResult } from "./support/cli.ts";
import { objectStatus } from "./support/status.ts";

/**
 * The access token and the webhook secret never leave the process's memory: not in a log line
 * (a debug-level worker through server errors, a refused token and a rejected push), not in an
 * error a command prints, not in `hubsync status`, not in any column of any table.
 */

const TOKEN = `pat-na1-${randomUUID()}`;
const SECRET = `whsec-${randomUUID()}`;
let db: TestDatabase;
let sim: RunningSimulator;
let worker: WorkerProcess | null = null;
const logFile = join(mkdtempSync(join(tmpdir(), "hubsync-secrets-")), "worker.log");
const saved = { secret: process.env.HUBSPOT_WEBHOOK_SECRET, level: process.env.HUBSYNC_LOG_LEVEL, pause: process.env.HUBSYNC_AUTH_PAUSE_MS };
const outputs: CliResult[] = [];
let webhookUrl = "";

/** A port nobody listens on right now (for the worker's webhook receiver). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Posts a webhook batch the way HubSpot does (v3 signature), signed with `secret`. */
async function postWebhook(secret: string, events: unknown[], timestamp = Date.now()): Promise<number> {
  const body = JSON.stringify(events);
  const signature = sign("v3", secret, { method: "POST", url: webhookUrl, body, timestamp });
  const res = await fetch(webhookUrl, {
    method: "POST",
    headers: { "content-type": "application/json", "X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": String(timestamp) },
    body,
  });
  await res.text();
  return res.status;
}

beforeAll(async () => {
  db = await installedDatabase("security_secrets");
  sim = await startSimulator({ token: TOKEN, rateLimits: false, faults: { serverErrorRate: 0.1, seed: 11 } });
  for (let i = 0; i < 120; i++) await sim.control.createRecord("contacts", { email: `s${i}@example.com`, firstname: `S${i}` });
  // startWorkerProcess passes this process's environment on
  Object.assign(process.env, { HUBSPOT_WEBHOOK_SECRET: SECRET, HUBSYNC_LOG_LEVEL: "debug", HUBSYNC_AUTH_PAUSE_MS: "1000" });
  await db.pool.query(`select hubsync.enable_sync('contacts', null, true)`);
  const port = await freePort();
  webhookUrl = `http://127.0.0.1:${port}/hubspot/webhooks`;
  worker = startWorkerProcess({
    databaseUrl: db.url,
    hubspotUrl: sim.url,
    token: TOKEN,
    logFile,
    concurrency: 3,
    args: ["--webhooks-port", String(port), "--webhooks-host", "127.0.0.1"],
  });
});

afterAll(async () => {
  await worker?.stop();
  for (const [k, v] of [
    ["HUBSPOT_WEBHOOK_SECRET", saved.secret],
    ["HUBSYNC_LOG_LEVEL", saved.level],
    ["HUBSYNC_AUTH_PAUSE_MS", saved.pause],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await sim?.close();
  await db?.drop();
});

const status = () => objectStatus(db.pool, "contacts");

function leaks(text: string): string[] {
  const found: string[] = [];
  for (const [name, value] of [
    ["token", TOKEN],
    ["webhook secret", SECRET],
  ] as const) {
    // the whole value, and its distinctive tail (a truncated or re-wrapped copy)
    if (text.includes(value) || text.includes(value.slice(-16))) found.push(name);
    if (text.includes(Buffer.from(value).toString("base64"))) found.push(`${name} (base64)`);
  }
  return found;
}

describe("secrets — one story, in order: later tests build on what earlier ones left", () => {
  it("a debug-level worker run through faults, a refused token and a rejected push logs neither the token nor the webhook secret", async () => {
    await waitFor("contacts live", async () => ((await status())?.phase === "live" ? true : undefined), {
      timeoutMs: 30_000,
      describe: async () => `${JSON.stringify(await status())}\n${readFileSync(logFile, "utf8").slice(-2000)}`,
    });
    await db.pool.query(`insert into hubspot.contacts (email, firstname) values ('fine@example.com', 'Fine'), ('not an email', 'Bad')`);
    await waitFor("the push to finish", async () => {
      const s = await status();
      return s && s.pending === 0 && s.rejected === 1 ? s : undefined;
    }, { timeoutMs: 30_000, describe: async () => JSON.stringify(await status()) });

    // webhooks: a good batch, a forged one, a stale one and one that is not HubSpot's shape
    const someone = (await sim.control.listRecords("contacts"))[2]!;
    const event = { eventId: 1, portalId: 1, appId: 1, occurredAt: Date.now(), subscriptionType: "contact.propertyChange", attemptNumber: 0, objectId: Number(someone.id), propertyName: "firstname", propertyValue: "x" };
    const statuses = [
      await postWebhook(SECRET, [event]),
      await postWebhook(`${SECRET}-forged`, [event]),
      await postWebhook(SECRET, [event], Date.now() - 10 * 60_000),
      await postWebhook(SECRET, [{ not: "an event" }]),
    ];
    expect(statuses[0]).toBeLessThan(300);
    expect(statuses.slice(1, 3)).toEqual([401, 401]);
    expect(statuses[3]).toBe(400);

    // the token stops working for a while, then works again
    await sim.control.configure({ token: "someone-rotated-it" });
    await db.pool.query(`update hubspot.contacts set firstname = 'During 401' where email = 's1@example.com'`);
    await db.pool.query(`select hubsync_worker.add_job('hubsync_pull_all', '{}'::json)`);
    await waitFor("the 401 pause", async () => ((await status())?.last_error?.includes("401") ? true : undefined), { timeoutMs: 20_000 });

    // what operators run meanwhile, with the right token and with a wrong one
    const env = { DATABASE_URL: db.url, HUBSPOT_BASE_URL: sim.url, HUBSPOT_WEBHOOK_SECRET: SECRET, HUBSYNC_LOG_LEVEL: "debug", HUBSYNC_AUTH_PAUSE_MS: "1000" };
    // (side by side, as several operators would: each is a process of its own)
    const commands = [["status"], ["status", "--json"], ["sync", "--once", "contacts"], ["push", "--dry-run"]];
    outputs.push(...(await Promise.all(commands.map((args) => runCli(args, { ...env, HUBSPOT_ACCESS_TOKEN: TOKEN })))));
    expect(outputs.map((o) => o.stdout + o.stderr).join("\n")).toContain("401");
    for (const o of outputs) console.log(`exit ${o.code}\n${o.stdout}${o.stderr.split("\n").filter((l) => !l.startsWith("{")).join("\n")}`);

    await sim.control.configure({ token: TOKEN });
    await waitFor("the change to go through", async () => {
      const s = await status();
      return s && s.pending === 0 && !s.last_error ? s : undefined;
    }, { timeoutMs: 30_000, describe: async () => JSON.stringify(await status()) });
    outputs.push(await runCli(["status"], { ...env, HUBSPOT_ACCESS_TOKEN: TOKEN }));
    expect(await worker!.stop()).toBe(0);
    worker = null;

    const log = readFileSync(logFile, "utf8");
    expect(log.split("\n").length).toBeGreaterThan(50); // debug really was on
    expect(log).toContain("401");
    expect(log).toMatch(/"level":20/);
    expect(leaks(log)).toEqual([]);
    for (const o of outputs) expect(leaks(o.stdout + o.stderr)).toEqual([]);
  }, 90_000);

  it("no column of any table holds the token or the secret", async () => {
    const { rows: columns } = await db.pool.query<{ schema: string; table: string; column: string }>(
      `select n.nspname as schema, c.relname as table, a.attname as column
         from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
          and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
          and format_type(a.atttypid, a.atttypmod) in ('text', 'jsonb', 'json', 'text[]', 'character varying', 'bytea')`,
    );
    expect(columns.length).toBeGreaterThan(40);
    const hits: string[] = [];
    for (const c of columns) {
      for (const value of [TOKEN, SECRET, TOKEN.slice(-16), SECRET.slice(-16)]) {
        const q = `select count(*)::int as n from "${c.schema}"."${c.table}" where strpos("${c.column}"::text, $1) > 0`;
        const { rows } = await db.pool.query(q, [value]);
        if (rows[0].n > 0) hits.push(`${c.schema}.${c.table}.${c.column}`);
      }
    }
    expect(hits).toEqual([]);
    // and the settings the server keeps for this database
    const settings = await db.pool.query(`select coalesce(string_agg(array_to_string(setconfig, ','), ','), '') as s from pg_db_role_setting`);
    expect(leaks(settings.rows[0].s)).toEqual([]);
  });
});
