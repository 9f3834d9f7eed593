import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import pgClient from "pg";
import { startLocalPostgres } from "../shared/local-postgres.ts";
import { log } from "../../core/log.ts";
import { createBenchDatabase, type BenchDatabase } from "../shared/database.ts";
import { naiveHttp, NAIVE_SCHEMA } from "./naive.ts";
import { seedSizeFor } from "../shared/objects.ts";
import { SCENARIOS, type BenchOptions } from "./options.ts";
import { evaluateGoals, type BenchResults, type TierResults } from "./report.ts";
import { hubsyncBackfill, naiveBackfillRun } from "./scenarios/backfill.ts";
import { maxRecordsPerSecond, type TierContext } from "./scenarios/context.ts";
import { hubsyncIncremental, naiveIncrementalRun } from "./scenarios/incremental.ts";
import { triggerCost, type TriggerFigures } from "./scenarios/trigger.ts";
import { hubsyncWriteBack, naiveWriteBack } from "./scenarios/write-back.ts";
import { hubsyncWriteBackUnderLoad } from "./scenarios/write-back-load.ts";
import { hubsyncWebhooks } from "./scenarios/webhooks.ts";
import { scaleRun, type ScaleFigures } from "./scenarios/scale.ts";
import { workerCounts, type WorkerCountFigures } from "./scenarios/workers.ts";
import { SYNCED_TYPES } from "../shared/objects.ts";
import { BURST_LIMIT_PER_10S, startBenchSimulator, type Tier } from "../shared/sim.ts";
import { checkCopy, hubsyncTable } from "./verify.ts";
import { backfillBound } from "./bound.ts";
import { quoteIdent } from "../../core/schema/naming.ts";

async function serverVersion(adminUrl: string): Promise<string> {
  const c = new pgClient.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return (await c.query<{ v: string }>("show server_version")).rows[0]?.v ?? "?";
  } finally {
    await c.end();
  }
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * One tier: the naive script first (nothing else talks to the simulator then), then hubsync's
 * worker; both copies are checked against the simulator at the end.
 */
async function runTier(
  pg: { adminUrl: string },
  opts: BenchOptions,
  tier: Tier,
  workDir: string,
  note: (m: string) => void,
): Promise<{ result: TierResults; db: BenchDatabase; hubsyncCopy: boolean }> {
  const limit = BURST_LIMIT_PER_10S[tier];
  note(`[${tier}] seeding the simulator (~${opts.backfillRecords.toLocaleString("en-US")} records of the synced types)`);
  const sim = await startBenchSimulator({ tier, latencyMs: opts.latencyMs, seedSize: seedSizeFor(opts.backfillRecords), seed: opts.seed });
  const bound = backfillBound(limit, sim.store, SYNCED_TYPES.map((t) => t.type));
  const result: TierResults = {
    tier,
    limitPer10s: limit,
    maxRecordsPerSecond: maxRecordsPerSecond(limit),
    boundRecordsPerSecond: bound.boundRecordsPerSecond,
    channels: bound.channels,
    boundArithmetic: bound.arithmetic,
    checks: [],
    errors: [],
  };
  const db = await createBenchDatabase(pg.adminUrl, tier);
  const ctx: TierContext = {
    tier,
    limitPer10s: limit,
    bound,
    sim,
    db,
    http: naiveHttp(sim.url, sim.token),
    worker: null,
    workerLog: join(workDir, `worker-${tier}.log`),
    note,
  };
  const stream = { rows: opts.pushRows, batchSize: opts.pushBatch, intervalMs: opts.pushIntervalMs };
  const step = async <T,>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    note(`[${tier}] ${name}`);
    const started = Date.now();
    try {
      const v = await fn();
      note(`[${tier}] ${name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return v;
    } catch (err) {
      result.errors.push(`${name}: ${errorText(err)}`);
      note(`[${tier}] ${name} FAILED: ${errorText(err)}`);
      log.debug({ err }, "bench step failed");
      return undefined;
    }
  };
  try {
    // Order: nothing else talks to the simulator while one side is measured (the worker is stopped
    // before the naive script's incremental and write-back), and hubsync's first incremental pass
    // after its backfill sees only its own 10,000 changes in its lag window, not the naive run's.
    const naiveBf = await step("naive backfill", () => naiveBackfillRun(ctx));
    result.backfill = { naive: naiveBf };
    const bf = await step("hubsync backfill", () => hubsyncBackfill(ctx, opts.timeoutMs));
    result.backfill.hubsync = bf;
    result.incremental = {};
    result.writeBack = { stream };
    if (bf) {
      result.incremental.hubsync = await step("hubsync incremental pull", () => hubsyncIncremental(ctx, opts.changes, opts.timeoutMs));
      result.writeBack.hubsync = await step("hubsync write-back", () => hubsyncWriteBack(ctx, stream, opts.timeoutMs));
      result.writeBackUnderLoad = await step("hubsync write-back during a backfill, pulls and association refreshes", () =>
        hubsyncWriteBackUnderLoad(ctx, stream, opts.timeoutMs),
      );
      const webhooks = await step("hubsync webhooks", () => hubsyncWebhooks(ctx, opts.webhookChanges, opts.timeoutMs));
      result.webhooks = { hubsync: webhooks };
    }
    if (ctx.worker) {
      const code = await ctx.worker.stop();
      ctx.worker = null;
      if (code !== 0) result.errors.push(`hubsync worker exited with code ${code} (log: ${ctx.workerLog})`);
    }
    if (naiveBf) {
      result.incremental.naive = await step("naive incremental pull", () => naiveIncrementalRun(ctx, opts.changes));
      result.writeBack.naive = await step("naive write-back (sample)", () => naiveWriteBack(ctx, stream, opts.naivePushSample));
    }
    if (bf) {
      const c = await step("checking hubsync's copy", () => checkCopy(db.pool, sim, "hubsync", (t) => hubsyncTable(db.pool, t)));
      if (c) result.checks.push(c);
    }
    if (naiveBf) {
      const c = await step("checking the naive copy", () => checkCopy(db.pool, sim, "naive script", async (t) => `${NAIVE_SCHEMA}.${quoteIdent(t)}`));
      if (c) result.checks.push(c);
    }
    return { result, db, hubsyncCopy: !!bf };
  } finally {
    if (ctx.worker) await ctx.worker.stop();
    await sim.close().catch(() => {});
  }
}

/** `server`: an already running PostgreSQL to use (tests); by default the bench starts its own. */
export async function runBench(opts: BenchOptions, note: (m: string) => void, server?: { adminUrl: string }): Promise<BenchResults> {
  const started = Date.now();
  const outDir = resolve(opts.outDir);
  const workDir = resolve(".hubsync/bench");
  mkdirSync(outDir, { recursive: true });
  mkdirSync(workDir, { recursive: true });
  note(`starting PostgreSQL`);
  const pg: { adminUrl: string; version: string; kind: string; stop(): Promise<void> } = server
    ? { adminUrl: server.adminUrl, version: await serverVersion(server.adminUrl), kind: "given server", stop: async () => {} }
    : await startLocalPostgres("auto");
  // Stopped by Ctrl-C or a supervisor, the bench takes its PostgreSQL down with it: the finally
  // below never runs on a signal, and the server would outlive the bench on its port.
  const onSignal = (signal: NodeJS.Signals) => {
    note(`${signal}: stopping PostgreSQL`);
    void pg.stop().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const tiers: TierResults[] = [];
  let trigger: TriggerFigures | null = null;
  let triggerError: string | undefined;
  const dbs: BenchDatabase[] = [];
  const propertiesPerType = await catalogWidths(opts);
  let scale: ScaleFigures | null = null;
  let scaleNote: string | undefined;
  let workers: WorkerCountFigures[] = [];
  let workersNote: string | undefined;
  try {
    let withCopy: BenchDatabase | null = null;
    for (const tier of opts.scenarios.includes("tiers") ? opts.tiers : []) {
      const { result, db, hubsyncCopy } = await runTier(pg, opts, tier, workDir, note);
      tiers.push(result);
      dbs.push(db);
      if (hubsyncCopy) withCopy = db;
    }
    // The trigger's cost does not depend on the tier: measured once, on a database holding a hubsync copy (no worker running).
    if (withCopy) {
      note(`trigger cost (${opts.triggerRounds} × 2 runs of ${opts.triggerSeconds} s)`);
      try {
        trigger = await triggerCost(withCopy.pool, withCopy.url, { seconds: opts.triggerSeconds, rounds: opts.triggerRounds, workDir, note });
      } catch (err) {
        triggerError = errorText(err);
        note(`trigger cost FAILED: ${triggerError}`);
      }
    }
    ({ workers, workersNote } = await runWorkerCounts(pg.adminUrl, opts, workDir, note));
    ({ scale, scaleNote } = await runScale(pg.adminUrl, opts, workDir, note));
  } finally {
    for (const db of dbs) await db.close().catch(() => {});
    await pg.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  const partial = {
    quick: opts.quick,
    ...(opts.scenarios.length < SCENARIOS.length ? { only: opts.scenarios } : {}),
    startedAt: new Date(started).toISOString(),
    elapsedMs: Date.now() - started,
    machine: { node: process.versions.node, postgres: `${pg.version} (${pg.kind})`, cpus: cpus().length },
    latencyMs: opts.latencyMs,
    sizes: { backfillRecords: opts.backfillRecords, changes: opts.changes, pushRows: opts.pushRows, naivePushSample: opts.naivePushSample },
    tiers,
    trigger,
    ...(triggerError ? { triggerError } : {}),
    propertiesPerType,
    scale,
    ...(scaleNote ? { scaleNote } : {}),
    workers,
    ...(workersNote ? { workersNote } : {}),
  };
  const ok =
    tiers.every((t) => t.errors.length === 0 && t.checks.every((c) => c.ok)) &&
    !triggerError &&
    (!scale || scale.check?.ok === true) &&
    workers.every((w) => w.check.ok) &&
    !(scaleNote && scaleNote.startsWith("failed")) &&
    !(workersNote && workersNote.startsWith("failed"));
  return { ...partial, goals: evaluateGoals(partial), ok };
}

/** Properties per synced type in the bench's portal (the realistic catalog): how wide the records copied are. */
async function catalogWidths(opts: BenchOptions): Promise<Record<string, number>> {
  const sim = await startBenchSimulator({ tier: "pro", latencyMs: opts.latencyMs, seedSize: 100, seed: opts.seed });
  try {
    return Object.fromEntries(SYNCED_TYPES.map((t) => [t.type, sim.propertyCount(t.type)]));
  } finally {
    await sim.close();
  }
}

/**
 * The scale run's limit grows with its size: a million contacts of HubSpot's width (about 380
 * properties) take over half an hour on a two-core machine that also runs the simulator and
 * PostgreSQL (529 a second measured at 100,000), past the other steps' 30 minutes.
 */
const SCALE_MS_PER_CONTACT = 4;

/** The million-record run on Pro (--scale N); a note says why it did not run or how it failed. */
async function runScale(
  adminUrl: string,
  opts: BenchOptions,
  workDir: string,
  note: (m: string) => void,
): Promise<{ scale: ScaleFigures | null; scaleNote?: string }> {
  if (!opts.scenarios.includes("scale")) return { scale: null, scaleNote: "not run (--only)" };
  if (opts.scaleContacts === 0) return { scale: null, scaleNote: opts.quick ? "skipped in --quick (--scale N runs it)" : "skipped (--scale 0)" };
  try {
    const scale = await scaleRun(
      adminUrl,
      {
        contacts: opts.scaleContacts,
        tier: "pro",
        latencyMs: opts.latencyMs,
        seed: opts.seed,
        timeoutMs: Math.max(opts.timeoutMs, opts.scaleContacts * SCALE_MS_PER_CONTACT),
        workerLog: join(workDir, "worker-scale.log"),
      },
      note,
    );
    return { scale };
  } catch (err) {
    note(`[scale] FAILED: ${errorText(err)}`);
    return { scale: null, scaleNote: `failed: ${errorText(err)}` };
  }
}

/** The same backfill by 1, 2 and 4 worker processes on one database (--workers). */
async function runWorkerCounts(
  adminUrl: string,
  opts: BenchOptions,
  workDir: string,
  note: (m: string) => void,
): Promise<{ workers: WorkerCountFigures[]; workersNote?: string }> {
  if (!opts.scenarios.includes("workers")) return { workers: [], workersNote: "not run (--only)" };
  if (opts.workerCounts.length === 0) return { workers: [], workersNote: opts.quick ? "skipped in --quick (--workers 1,2,4 runs it)" : "skipped (--workers 0)" };
  try {
    const workers = await workerCounts(
      adminUrl,
      {
        counts: opts.workerCounts,
        records: opts.workerRecords,
        tier: "pro",
        latencyMs: opts.latencyMs,
        seed: opts.seed,
        timeoutMs: opts.timeoutMs,
        logPrefix: join(workDir, "worker-count"),
      },
      note,
    );
    return { workers };
  } catch (err) {
    note(`[workers] FAILED: ${errorText(err)}`);
    return { workers: [], workersNote: `failed: ${errorText(err)}` };
  }
}

export function writeResults(r: BenchResults, outDir: string, markdown: string): { md: string; json: string } {
  const md = join(resolve(outDir), "results.md");
  const json = join(resolve(outDir), "results.json");
  writeFileSync(md, markdown);
  writeFileSync(json, JSON.stringify(r, null, 2) + "\n");
  return { md, json };
}
