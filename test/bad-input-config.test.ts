import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { withDatabase } from "../src/tools/shared/local-postgres.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { runCli, runMain, type CliResult } from "./support/cli.ts";

/**
 * A mistyped DATABASE_URL or token, as an operator makes it, for each command that needs them:
 * one line on stderr that names what to fix, a non-zero exit, no stack trace.
 *
 * Most cases run the command inside this process (runMain: the same main() the `hubsync` process
 * runs, its output captured), since what they check is how the command reads its settings and
 * words the failure. A real process still runs where the process itself is the point: a case of
 * each kind (a setting refused before anything connects, a database that refuses the login, a
 * token HubSpot refuses), so a line printed at exit or a process that does not end would still
 * fail here.
 */

let db: TestDatabase;
let sim: RunningSimulator;
const results: Array<{ name: string; result: CliResult }> = [];
// A role without LOGIN, given a password: the server accepts the password, then refuses the login.
const noLogin = `hubsync_nologin_${process.pid}`;

beforeAll(async () => {
  db = await installedDatabase("bad_config");
  sim = await startSimulator({ rateLimits: false });
  await db.pool.query(`select hubsync.enable_sync('contacts')`);
  await db.pool.query(`drop role if exists ${noLogin}`);
  await db.pool.query(`create role ${noLogin} nologin password 'right'`);
});

afterAll(async () => {
  for (const r of results) console.log(`BAD-CONFIG ${r.name}: exit ${r.result.code}: ${r.result.stderr.trim()}`);
  await sim?.close();
  await db?.pool.query(`drop role if exists ${noLogin}`);
  await db?.drop();
});

function expectOneClearLine(name: string, r: CliResult, mustMention: RegExp): void {
  results.push({ name, result: r });
  const err = r.stderr.trim();
  expect(r.code, `${name}: ${err}`).not.toBe(0);
  expect(err.split("\n"), `${name}: ${err}`).toHaveLength(1);
  expect(err, name).toMatch(mustMention);
  expect(r.stderr + r.stdout, name).not.toMatch(/\n\s+at .*\(|node:internal|\.ts:\d+:\d+/);
}

const COMMANDS: string[][] = [["worker"], ["sync", "--once"], ["status"], ["install"]];
/** The cases of the table below that start a real `hubsync` process. */
const AS_PROCESS = new Set(["malformed: hubsync worker", "login refused: hubsync sync --once"]);

describe("a misconfigured DATABASE_URL", () => {
  const cases: Array<[string, () => string, RegExp]> = [
    ["malformed", () => "postgres//nobody@@:what", /DATABASE_URL/],
    ["unreachable", () => "postgres://hubsync@127.0.0.1:1/nothing", /cannot reach PostgreSQL at hubsync@127\.0\.0\.1:1\/nothing.*DATABASE_URL/],
    ["unknown host", () => "postgres://hubsync@no-such-host.invalid:5432/db", /host .*not found.*DATABASE_URL/],
    ["database missing", () => withDatabase(inject("adminUrl"), "hubsync_no_such_database"), /database "hubsync_no_such_database" does not exist.*DATABASE_URL/],
    ["not installed", () => withDatabase(inject("adminUrl"), "postgres"), /not installed|hubsync install|permission|DATABASE_URL/],
    [
      "login refused",
      () => {
        const u = new URL(db.url);
        u.username = noLogin;
        u.password = "right";
        return u.toString();
      },
      /PostgreSQL refused the login for hubsync_nologin_\d+@.*not permitted to log in.*check the user and password in DATABASE_URL/,
    ],
  ];
  for (const [label, url, mention] of cases) {
    for (const args of COMMANDS) {
      if (label === "not installed" && args[0] === "install") continue; // installing is the fix
      const name = `${label}: hubsync ${args.join(" ")}`;
      const run = AS_PROCESS.has(name) ? runCli : runMain;
      it(`${name}${AS_PROCESS.has(name) ? " (as a process)" : ""}`, async () => {
        const r = await run(args, { DATABASE_URL: url(), HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url });
        expectOneClearLine(`${label}: ${args.join(" ")}`, r, mention);
      });
    }
  }

  it("wrong password", async () => {
    const u = new URL(inject("adminUrl"));
    u.password = "certainly-not-the-password";
    u.pathname = `/${db.name}`;
    const r = await runMain(["status"], { DATABASE_URL: u.toString() });
    expectOneClearLine("wrong password: status", r, /PostgreSQL refused the login for .*password authentication failed.*check the user and password in DATABASE_URL/);
  });

  it("unset: every command says so", async () => {
    for (const args of COMMANDS) {
      const r = await runMain(args, { HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url });
      expectOneClearLine(`unset: ${args.join(" ")}`, r, /DATABASE_URL is not set/);
    }
  });
});

describe("a misconfigured token", () => {
  it("missing: worker and sync say HUBSPOT_ACCESS_TOKEN is not set", async () => {
    for (const args of [["worker"], ["sync", "--once"]]) {
      const r = await runMain(args, { DATABASE_URL: db.url, HUBSPOT_BASE_URL: sim.url });
      expectOneClearLine(`token unset: ${args.join(" ")}`, r, /HUBSPOT_ACCESS_TOKEN is not set/);
    }
  });

  it("refused by HubSpot: worker and sync stop at once with the 401 sentence", async () => {
    for (const args of [["worker"], ["sync", "--once"]]) {
      const env = { DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: "pat-na1-wrong", HUBSPOT_BASE_URL: sim.url };
      const r = args[0] === "worker" ? await runCli(args, env, 30_000) : await runMain(args, env);
      expectOneClearLine(`token refused: ${args.join(" ")}`, r, /HubSpot rejected the access token \(401\) — check HUBSPOT_ACCESS_TOKEN/);
    }
    // status reads only the database: it shows the pause instead of failing
    const s = await runMain(["status"], { DATABASE_URL: db.url });
    expect(s.code).toBe(0);
    expect(s.stdout).toContain("HubSpot rejected the access token (401)");
  });

  it("a pause setting that makes no sense (HUBSYNC_DAILY_RESET_TZ, HUBSYNC_AUTH_PAUSE_MS)", async () => {
    const env = { DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url };
    for (const args of [["worker"], ["sync", "--once"]]) {
      const tz = await runMain(args, { ...env, HUBSYNC_DAILY_RESET_TZ: "Mars/Olympus_Mons" });
      expectOneClearLine(`bad time zone: ${args.join(" ")}`, tz, /HUBSYNC_DAILY_RESET_TZ must be an IANA time zone .*got "Mars\/Olympus_Mons"/);
      const ms = await runMain(args, { ...env, HUBSYNC_AUTH_PAUSE_MS: "a minute" });
      expectOneClearLine(`bad pause: ${args.join(" ")}`, ms, /HUBSYNC_AUTH_PAUSE_MS must be a positive number of milliseconds/);
    }
  });

  it("HUBSYNC_ALERT_WEBHOOK_URL that is not an http(s) URL: named, its value (a secret, in Slack's case) not repeated", async () => {
    const r = await runCli(["worker"], { DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url, HUBSYNC_ALERT_WEBHOOK_URL: "hooks.slack.com/services/T0/B0/s3cr3t" });
    expectOneClearLine("bad alert webhook url: worker", r, /HUBSYNC_ALERT_WEBHOOK_URL must be an http\(s\) URL/);
    expect(r.stderr).not.toContain("s3cr3t");
  });

  it("HUBSPOT_BASE_URL that is not a URL", async () => {
    const r = await runMain(["sync", "--once"], { DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: "api.hubapi.com" });
    expectOneClearLine("bad base url: sync", r, /HUBSPOT_BASE_URL/);
  });
});
