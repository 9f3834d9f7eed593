import { mkdirSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { createBenchDatabase, type BenchDatabase } from "../shared/database.ts";
import { startBenchSimulator, BURST_LIMIT_PER_10S, type BenchSim } from "../shared/sim.ts";
import { waitFor } from "../shared/wait.ts";
import { startLocalPostgres } from "../shared/local-postgres.ts";
import { failedObjects, initialCopyDone, readSnapshot, type SyncSnapshot } from "../shared/snapshot.ts";
import { log } from "../../core/log.ts";
import { Prng } from "../../simulator/prng.ts";
import { createChangeMaker, SOAK_TYPES, WRITE_BACK_TYPES, type ChangeStats } from "./changes.ts";
import { compareCopy, type CopyComparison } from "./compare.ts";
import { copyChecks, type CopyChecks } from "./checks.ts";
import type { SoakOptions } from "./options.ts";
import { catchUpRound, outboxOpen } from "./settle.ts";
import { superviseWorker, type SupervisedWorker, type WorkerDeath } from "./supervisor.ts";
import { trafficOf, type Traffic } from "./traffic.ts";
import { setUpWebhooks, type WebhookFigures } from "../shared/webhooks.ts";

/** Everything one soak run measured; the text and markdown reports are renderings of this. */
export interface SoakResults {
  options: SoakOptions;
  startedAt: string;
  machine: { node: string; postgres: string; cpus: number };
  limitPer10s: number;
  initialCopy: { records: number; ms: number };
  /** The change phase as run (may end early on an error). */
  changeMs: number;
  changes: ChangeStats;
  /** From the end of the initial copy to the end: changes, then settling (faults off). */
  traffic: Traffic;
  /** Traffic while faults were on (the change phase): what the faults figures are out of. */
  trafficWithFaults: Traffic;
  worker: { restarts: number; deaths: WorkerDeath[] };
  /** Local changes: what became of them, and commit → HubSpot's answer for the sent ones. */
  outbox: { sent: number; rejected: number; superseded: number; total: number; conflicts: number; sendP50Ms: number | null; sendP95Ms: number | null };
  /** With --webhooks: deliveries and the worker's inbox. */
  webhooks: WebhookFigures | null;
  /** earlierRounds: what the comparison found after each catch-up round that was not yet clean. */
  convergence: { converged: boolean; ms: number; rounds: number; earlierRounds: string[]; error?: string };
  comparison: CopyComparison | null;
  checks: CopyChecks | null;
  problems: string[];
  ok: boolean;
  elapsedMs: number;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const secs = (ms: number) => `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s`;
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const FAULTS_OFF = { serverErrorRate: 0, timeoutRate: 0, dropRate: 0, lostResponseRate: 0 };

/** The fault rate split over HubSpot's ways of failing: mostly 5xx, the rest hangs, resets and lost answers. */
export function faultMix(rate: number, timeoutMs: number) {
  return { serverErrorRate: rate * 0.4, timeoutRate: rate * 0.2, dropRate: rate * 0.2, lostResponseRate: rate * 0.2, timeoutMs };
}

function describe(s: SyncSnapshot): string {
  return s.objects.map((o) => `${o.objectType} ${o.phase} ${o.rows}${o.lastError ? ` (${o.lastError})` : ""}`).join(", ");
}

async function outboxFigures(db: BenchDatabase): Promise<SoakResults["outbox"]> {
  const { rows } = await db.pool.query<{ status: string; n: string }>(`select status, count(*) as n from hubsync.outbox group by status`);
  const by = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  const conflicts = Number((await db.pool.query<{ n: string }>(`select count(*) as n from hubsync.conflicts`)).rows[0]?.n ?? 0);
  const { rows: lat } = await db.pool.query<{ p50: number | null; p95: number | null }>(
    `select percentile_cont(0.5) within group (order by extract(epoch from sent_at - created_at) * 1000) as p50,
            percentile_cont(0.95) within group (order by extract(epoch from sent_at - created_at) * 1000) as p95
       from hubsync.outbox where status = 'sent' and sent_at is not null`,
  );
  return {
    sendP50Ms: lat[0]?.p50 ?? null,
    sendP95Ms: lat[0]?.p95 ?? null,
    sent: by.sent ?? 0,
    rejected: by.rejected ?? 0,
    superseded: by.superseded ?? 0,
    total: rows.reduce((n, r) => n + Number(r.n), 0),
    conflicts,
  };
}

/**
 * `hubsync soak`: PostgreSQL (a fresh database on DATABASE_URL's server, or an embedded server),
 * the simulator at a real tier's limits with faults on, `hubsync worker` as a supervised child
 * process, write-back on contacts and companies; then changes on both sides at `rate` per second
 * for `minutes`; then faults off, quiescence, and a record-by-record comparison.
 */
export async function runSoak(
  opts: SoakOptions,
  note: (m: string) => void,
  /** adminUrl: an already running PostgreSQL to use (tests); workDir: where the worker's log goes (default .hubsync/soak). */
  where: { adminUrl?: string; workDir?: string } = {},
  /** Aborting ends the change phase early (Ctrl-C); quiescence and the comparison still run. */
  stopChanges?: AbortSignal,
): Promise<SoakResults> {
  const started = Date.now();
  const workDir = resolve(where.workDir ?? ".hubsync/soak");
  mkdirSync(workDir, { recursive: true });
  const problems: string[] = [];
  const adminUrl = where.adminUrl ?? process.env.DATABASE_URL;
  note(adminUrl ? "PostgreSQL: a new database on the given server" : "PostgreSQL: starting an embedded server");
  const pg = adminUrl ? { adminUrl, version: "given server", stop: async () => {} } : await startLocalPostgres("auto");
  let sim: BenchSim | null = null;
  let db: BenchDatabase | null = null;
  let worker: SupervisedWorker | null = null;
  try {
    note(`simulator: ${fmt(opts.size)}-record portal, ${opts.tier} tier (${BURST_LIMIT_PER_10S[opts.tier]} requests / 10 s), faults ${(opts.faults * 100).toFixed(1)}% of requests`);
    const s = await startBenchSimulator({
      tier: opts.tier,
      latencyMs: opts.latencyMs,
      seedSize: opts.size,
      seed: opts.seed,
      indexLagMs: opts.indexLagMs,
      faults: faultMix(opts.faults, opts.faultTimeoutMs),
    });
    sim = s;
    const hooks = opts.webhooks ? await setUpWebhooks(s.control) : null;
    if (hooks) note("webhooks: the simulator sends signed batches to the worker's receiver");
    const d = await createBenchDatabase(pg.adminUrl, "soak");
    db = d;
    const logFile = join(workDir, "worker.log");
    note(`worker: \`hubsync worker\` in its own process, restarted when it dies (log: ${logFile})`);
    const w = superviseWorker({
      databaseUrl: d.url,
      hubspotUrl: s.url,
      token: s.token,
      logFile,
      concurrency: opts.concurrency,
      args: hooks?.workerArgs,
      env: hooks?.workerEnv,
      onDeath: (death) => note(`  worker died (${death.killed ? "killed by the soak" : `code ${death.code}, signal ${death.signal}`}); restarting it`),
    });
    worker = w;

    // Initial copy, under faults.
    const copyStarted = Date.now();
    for (const t of SOAK_TYPES) {
      await d.pool.query(`select hubsync.enable_sync($1, null, $2)`, [t, (WRITE_BACK_TYPES as readonly string[]).includes(t)]);
    }
    let lastNote = Date.now();
    const copied = await waitFor(
      "the initial copy",
      async () => {
        const snap = await readSnapshot(d.pool);
        const failed = failedObjects(snap, [...SOAK_TYPES]);
        if (failed.length) throw new Error(`initial copy failed: ${failed.map((o) => `${o.objectType}: ${o.lastError}`).join("; ")}`);
        if (Date.now() - lastNote > opts.progressEverySeconds * 1000) {
          lastNote = Date.now();
          note(`  initial copy: ${describe(snap)}`);
        }
        return initialCopyDone(snap, [...SOAK_TYPES]) ? snap : undefined;
      },
      { timeoutMs: Math.max(120_000, opts.size * 50), describe: async () => describe(await readSnapshot(d.pool)) },
    );
    const initialCopy = {
      records: copied.objects.filter((o) => (SOAK_TYPES as readonly string[]).includes(o.objectType)).reduce((n, o) => n + o.rows, 0),
      ms: Date.now() - copyStarted,
    };
    note(`initial copy: ${fmt(initialCopy.records)} records in ${secs(initialCopy.ms)}`);
    await s.control.resetCounters();

    // Changes.
    const maker = await createChangeMaker({ pool: d.pool, control: s.control, store: s.store, seed: opts.seed });
    const changeStarted = Date.now();
    const changeEnd = changeStarted + opts.minutes * 60_000;
    note(`changes: ${opts.rate}/s on both sides for ${opts.minutes} min`);
    let nextProgress = changeStarted + opts.progressEverySeconds * 1000;
    let nextKill = opts.killEverySeconds > 0 ? changeStarted + opts.killEverySeconds * 1000 : Infinity;
    // Seeded exponential gaps between changes: a Poisson stream at `rate` per second.
    const dice = new Prng(opts.seed + 1);
    const gap = () => (-Math.log(1 - dice.next()) / opts.rate) * 1000;
    let due = changeStarted;
    while (Date.now() < changeEnd && !stopChanges?.aborted) {
      due += gap();
      const wait = due - Date.now();
      if (wait > 0) await sleep(Math.min(wait, changeEnd - Date.now()));
      if (Date.now() >= changeEnd) break;
      await maker.next();
      if (Date.now() >= nextKill) {
        nextKill += opts.killEverySeconds * 1000;
        w.kill();
      }
      if (Date.now() >= nextProgress) {
        nextProgress += opts.progressEverySeconds * 1000;
        note(await progressLine(d, s, maker.stats(), w, Date.now() - changeStarted));
      }
    }
    const changeMs = Date.now() - changeStarted;
    const changes = maker.stats();
    await s.control.configure({ faults: FAULTS_OFF });
    const trafficWithFaults = trafficOf(await s.control.counters());
    note(`changes stopped after ${secs(changeMs)}: ${fmt(totalMade(changes))} made; faults off; waiting for quiescence`);

    // Quiescence and comparison, in rounds until clean or out of time.
    const settleStarted = Date.now();
    const settleDeadline = settleStarted + opts.settleTimeoutMs;
    const convergence: SoakResults["convergence"] = { converged: false, ms: 0, rounds: 0, earlierRounds: [] };
    const roundNotes = convergence.earlierRounds;
    let lastSummary = "";
    let comparison: CopyComparison | null = null;
    while (Date.now() < settleDeadline) {
      convergence.rounds++;
      try {
        await catchUpRound(d.pool, {
          types: SOAK_TYPES,
          lastChangeAt: changes.lastChangeAt ?? changeStarted,
          indexLagMs: opts.indexLagMs,
          timeoutMs: settleDeadline - Date.now(),
          webhooks: hooks ?? undefined,
        });
      } catch (err) {
        convergence.error = errorText(err);
        break;
      }
      comparison = await compareCopy(d.pool, s, SOAK_TYPES);
      convergence.ms = Date.now() - settleStarted;
      if (comparison.clean) {
        convergence.converged = true;
        break;
      }
      // Said (and kept) when it differs from the round before: a copy that stays wrong says so once.
      if (comparison.summary !== lastSummary && roundNotes.length < 5) {
        const ex = comparison.tables.flatMap((t) => t.examples.map((e) => `${t.table}: ${e}`)).slice(0, 5);
        const line = `round ${convergence.rounds}: ${comparison.short}${ex.length ? ` (e.g. ${ex.join("; ")})` : ""}`;
        note(`  ${line}; more rounds until ${secs(opts.settleTimeoutMs)} after the last change`);
        roundNotes.push(line);
      }
      lastSummary = comparison.summary;
    }
    if (!convergence.converged) {
      convergence.ms = Date.now() - settleStarted;
      problems.push(`did not converge within ${secs(opts.settleTimeoutMs)}${convergence.error ? `: ${convergence.error}` : ""}`);
    }
    note(`quiescence: ${convergence.converged ? `converged in ${secs(convergence.ms)}` : "NOT converged"} (${convergence.rounds} round${convergence.rounds === 1 ? "" : "s"})`);
    comparison ??= await compareCopy(d.pool, s, SOAK_TYPES).catch(() => null);
    const checks = await copyChecks(d.pool, s);
    if (comparison && !comparison.clean) problems.push(`the copy differs from HubSpot: ${comparison.short}`);
    problems.push(...checks.problems);
    if (changes.errors) problems.push(`${changes.errors} change(s) failed unexpectedly (first: ${changes.errorExamples[0]})`);
    const outbox = await outboxFigures(d);
    const traffic = trafficOf(await s.control.counters());
    if ((await outboxOpen(d.pool)).open > 0) problems.push("the outbox still has changes waiting");

    return {
      options: opts,
      startedAt: new Date(started).toISOString(),
      machine: { node: process.versions.node, postgres: pg.version, cpus: cpus().length },
      limitPer10s: BURST_LIMIT_PER_10S[opts.tier],
      initialCopy,
      changeMs,
      changes,
      traffic,
      trafficWithFaults,
      worker: { restarts: w.restarts(), deaths: w.deaths() },
      outbox,
      webhooks: hooks ? await hooks.figures(d.pool) : null,
      convergence,
      comparison,
      checks,
      problems,
      ok: problems.length === 0,
      elapsedMs: Date.now() - started,
    };
  } finally {
    if (worker) {
      const code = await worker.stop().catch(() => null);
      if (code !== 0 && code !== null) log.warn({ code }, "soak: the worker exited with an error at the end");
    }
    await sim?.close().catch(() => {});
    await db?.close().catch(() => {});
    await pg.stop();
  }
}

export function totalMade(c: ChangeStats): number {
  return Object.values(c.byKind).reduce((n, k) => n + k.made, 0);
}

async function progressLine(db: BenchDatabase, sim: BenchSim, changes: ChangeStats, worker: SupervisedWorker, elapsedMs: number): Promise<string> {
  const t = trafficOf(await sim.control.counters());
  const outbox = await outboxOpen(db.pool);
  return (
    `  ${secs(elapsedMs)}: ${fmt(totalMade(changes))} changes · API calls ${fmt(t.requests)} · 429s ${fmt(t.rateLimited)} · ` +
    `faults ${fmt(t.faults)} · outbox open ${fmt(outbox.open)} · worker restarts ${worker.restarts()}` +
    (changes.errors ? ` · change errors ${changes.errors}` : "")
  );
}
