import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { startWorkerProcess } from "../src/tools/shared/worker-process.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { installedDatabase } from "./support/database.ts";
import { runCli } from "./support/cli.ts";
import type { TestDatabase } from "./support/database.ts";
import { objectStatus } from "./support/status.ts";

// The access token, the webhook secret and the database password, through hubsync's own logger
// (src/core/log.ts) as every process builds it, read only once the log was flushed: a check of an
// unflushed log would pass on an empty file.

const LOG_MODULE = fileURLToPath(new URL("../src/core/log.ts", import.meta.url));
const TOKEN = `pat-na1-${randomUUID()}`;
const SECRET = `whsec-${randomUUID()}`;
const PASSWORD = `pw-${randomUUID()}`;
const ROLE = `hubsync_pw_${randomUUID().slice(0, 8)}`;

let db: TestDatabase;
let sim: RunningSimulator;
/** The test database, reached as a role with a password (what production DATABASE_URLs carry). */
let passwordUrl = "";

beforeAll(async () => {
  db = await installedDatabase("security_log");
  await db.pool.query(`create role ${ROLE} login superuser password '${PASSWORD}'`);
  const u = new URL(db.url);
  u.username = ROLE;
  u.password = PASSWORD;
  passwordUrl = u.toString();
  sim = await startSimulator({ token: TOKEN, rateLimits: false, faults: { serverErrorRate: 0.1, seed: 3 } });
  for (let i = 0; i < 50; i++) await sim.control.createRecord("contacts", { email: `l${i}@example.com` });
});

afterAll(async () => {
  await sim?.close();
  await db?.drop();
  // a role belongs to the server, not to the database just dropped
  const admin = new pg.Client({ connectionString: inject("adminUrl") });
  await admin.connect();
  await admin.query(`drop role if exists ${ROLE}`);
  await admin.end();
});

function leaks(text: string): string[] {
  const found: string[] = [];
  for (const [name, value] of [
    ["token", TOKEN],
    ["webhook secret", SECRET],
    ["database password", PASSWORD],
  ] as const) {
    if (text.includes(value) || text.includes(value.slice(-16))) found.push(name);
    if (text.includes(encodeURIComponent(value)) || text.includes(Buffer.from(value).toString("base64"))) found.push(`${name} (encoded)`);
  }
  return found;
}

it("the product's logger, in a process of its own, writes every line and none of the secrets", async () => {
  // every shape in which hubsync's code holds them: options, configs, an environment, pg's pool
  // settings, request headers, child loggers (as each component gets one)
  const script = `
    import { log } from ${JSON.stringify(LOG_MODULE)};
    const [token, secret, password, url] = JSON.parse(process.argv[1]);
    const worker = log.child({ component: "worker" });
    log.info({ accessToken: token, token, secret, webhookSecret: secret, password, databaseUrl: url, connectionString: url }, "top level");
    log.info({ config: { accessToken: token, secret }, options: { token, databaseUrl: url, password } }, "one level down");
    worker.info({ env: { HUBSPOT_ACCESS_TOKEN: token, HUBSPOT_WEBHOOK_SECRET: secret, DATABASE_URL: url } }, "an environment");
    worker.warn({ pool: { connectionString: url, password } }, "pg pool settings");
    log.info({ headers: { authorization: "Bearer " + token, "x-hubspot-signature-v3": secret } }, "request headers");
    log.info({ req: { headers: { Authorization: "Bearer " + token } } }, "nested request");
    log.flush(() => process.exit(0));
  `;
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, JSON.stringify([TOKEN, SECRET, PASSWORD, passwordUrl])], {
      env: { PATH: process.env.PATH, HUBSYNC_LOG_LEVEL: "debug" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
  expect(out.code, out.stderr).toBe(0);
  const lines = out.stderr.split("\n").filter(Boolean);
  // every line arrives (the asynchronous destination may interleave them when stderr is a pipe)
  expect(lines.map((l) => JSON.parse(l).msg).sort()).toEqual([
    "an environment",
    "nested request",
    "one level down",
    "pg pool settings",
    "request headers",
    "top level",
  ].sort());
  expect(out.stderr).toContain("[redacted]");
  expect(leaks(out.stdout + out.stderr)).toEqual([]);
});

it("a debug-level worker, `sync` and a failed `status`, all given a DATABASE_URL with a password, log none of the secrets", async () => {
  const logFile = join(mkdtempSync(join(tmpdir(), "hubsync-log-")), "worker.log");
  await db.pool.query(`select hubsync.enable_sync('contacts', array['email'], true)`);
  const saved = process.env.HUBSYNC_LOG_LEVEL;
  process.env.HUBSYNC_LOG_LEVEL = "debug";
  const worker = startWorkerProcess({ databaseUrl: passwordUrl, hubspotUrl: sim.url, token: TOKEN, logFile, concurrency: 2, env: { HUBSPOT_WEBHOOK_SECRET: SECRET } });
  if (saved === undefined) delete process.env.HUBSYNC_LOG_LEVEL;
  else process.env.HUBSYNC_LOG_LEVEL = saved;
  try {
    await waitFor("contacts live", async () => ((await objectStatus(db.pool, "contacts"))?.phase === "live" ? true : undefined), {
      timeoutMs: 60_000,
      describe: () => readFileSync(logFile, "utf8").slice(-2_000),
    });
    await db.pool.query(`insert into hubspot.contacts (email) values ('new@example.com')`);
    await waitFor("the push", async () => ((await objectStatus(db.pool, "contacts"))?.pending === 0 ? true : undefined), { timeoutMs: 60_000 });
  } finally {
    expect(await worker.stop()).toBe(0);
  }
  const env = { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_URL: sim.url, HUBSPOT_WEBHOOK_SECRET: SECRET, HUBSYNC_LOG_LEVEL: "debug" };
  const sync = await runCli(["sync", "--once", "contacts"], { ...env, DATABASE_URL: passwordUrl }, 60_000);
  // nothing listens on port 9: the command fails, naming the database it could not reach
  const unreachable = new URL(passwordUrl);
  unreachable.port = "9";
  const status = await runCli(["status"], { ...env, DATABASE_URL: unreachable.toString() });
  expect(status.code).toBe(1);
  expect(status.stderr).toMatch(/cannot reach PostgreSQL at .*127\.0\.0\.1:9/);

  // the worker exited (its log is flushed); the commands too
  const log = readFileSync(logFile, "utf8");
  expect(log).toMatch(/"level":20/); // debug really was on
  expect(log).toMatch(/"msg":"worker stopped"/); // the last line made it out
  expect(sync.code, sync.stdout + sync.stderr).toBe(0);
  expect(sync.stdout).toMatch(/contacts\s+live/);
  expect(leaks(log)).toEqual([]);
  expect(leaks(sync.stdout + sync.stderr)).toEqual([]);
  expect(leaks(status.stdout + status.stderr)).toEqual([]);
}, 150_000);
