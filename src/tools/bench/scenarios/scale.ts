import { readFileSync } from "node:fs";
import { createBenchDatabase } from "../../shared/database.ts";
import { BURST_LIMIT_PER_10S, startBenchSimulator, type Tier } from "../../shared/sim.ts";
import { readRss } from "../../shared/worker-process.ts";
import { naiveHttp } from "../naive.ts";
import { checkCopy, hubsyncTable, type CopyCheck } from "../verify.ts";
import { hubsyncBackfill, type BackfillFigures } from "./backfill.ts";
import type { TierContext } from "./context.ts";
import { backfillBound } from "../bound.ts";
import { SYNCED_TYPES } from "../../shared/objects.ts";

/**
 * The million-record backfill: one portal whose contacts alone number `contacts`, copied by one
 * `hubsync worker` process on the realistic catalog, with the worker's resident memory sampled
 * over the whole run. The simulator stays in the bench process (the worker is a process of its
 * own), so the worker's figures are its own; the bench process's are reported beside them.
 */
export interface RssSample {
  /** Since the first enable_sync. */
  atMs: number;
  workerRssBytes: number | null;
  /** The bench process, which holds the simulator and its portal. */
  benchRssBytes: number;
}

export interface ScaleFigures {
  tier: Tier;
  limitPer10s: number;
  /** Contacts seeded; the other synced types are those of a small portal around them. */
  contacts: number;
  seedMs: number;
  /** The heap limit the worker reported at start (HUBSYNC_MAX_HEAP_MB, else its default), in MB. */
  heapLimitMb: number | null;
  backfill: BackfillFigures;
  /** A few samples spread over the run (the peak one among them). */
  samples: RssSample[];
  peakWorkerRssBytes: number | null;
  peakBenchRssBytes: number;
  check: CopyCheck | null;
}

export interface ScaleOptions {
  contacts: number;
  tier: Tier;
  latencyMs: { min: number; max: number };
  seed: number;
  timeoutMs: number;
  workerLog: string;
}

/** The other types come from a portal this size: about 1,600 companies and deals and 800 tickets. */
const SURROUNDING_PORTAL = 20_000;
const SAMPLE_EVERY_MS = 1000;
const SAMPLES_KEPT = 12;

/** `keep` samples evenly spread over the run, plus the one with the highest worker RSS. */
export function spreadSamples(all: RssSample[], keep: number): RssSample[] {
  if (all.length <= keep) return all;
  const picked = new Set<RssSample>();
  for (let i = 0; i < keep; i++) picked.add(all[Math.round((i * (all.length - 1)) / (keep - 1))]!);
  const peak = all.reduce((a, b) => ((b.workerRssBytes ?? 0) > (a.workerRssBytes ?? 0) ? b : a));
  picked.add(peak);
  return all.filter((s) => picked.has(s));
}

/** What `hubsync worker` logged as its heap limit when it started. */
function reportedHeapLimit(logFile: string): number | null {
  const m = /"heapLimitMb":(\d+)/.exec(readFileSync(logFile, "utf8"));
  return m ? Number(m[1]) : null;
}

export async function scaleRun(adminUrl: string, opts: ScaleOptions, note: (m: string) => void): Promise<ScaleFigures> {
  const seedStarted = Date.now();
  note(`[scale] seeding ${opts.contacts.toLocaleString("en-US")} contacts (realistic catalog, ${opts.tier})`);
  const sim = await startBenchSimulator({
    tier: opts.tier,
    latencyMs: opts.latencyMs,
    seedSize: SURROUNDING_PORTAL,
    seedCounts: { contacts: opts.contacts },
    seed: opts.seed,
  });
  const seedMs = Date.now() - seedStarted;
  const db = await createBenchDatabase(adminUrl, "scale");
  const limit = BURST_LIMIT_PER_10S[opts.tier];
  const ctx: TierContext = {
    tier: opts.tier,
    limitPer10s: limit,
    sim,
    db,
    http: naiveHttp(sim.url, sim.token),
    worker: null,
    workerLog: opts.workerLog,
    note: (m) => note(`[scale]${m}`),
    bound: backfillBound(limit, sim.store, SYNCED_TYPES.map((t) => t.type)),
  };
  const all: RssSample[] = [];
  let peakBench = process.memoryUsage.rss();
  let started = Date.now();
  const timer = setInterval(() => {
    const bench = process.memoryUsage.rss();
    peakBench = Math.max(peakBench, bench);
    all.push({ atMs: Date.now() - started, workerRssBytes: ctx.worker ? readRss(ctx.worker.pid) : null, benchRssBytes: bench });
  }, SAMPLE_EVERY_MS);
  try {
    started = Date.now();
    const backfill = await hubsyncBackfill(ctx, opts.timeoutMs);
    clearInterval(timer);
    const code = await ctx.worker?.stop();
    ctx.worker = null;
    if (code !== 0) throw new Error(`hubsync worker exited with code ${code} (log: ${opts.workerLog})`);
    note(`[scale] checking the copy`);
    const check = await checkCopy(db.pool, sim, "hubsync", (t) => hubsyncTable(db.pool, t));
    return {
      tier: opts.tier,
      limitPer10s: limit,
      contacts: opts.contacts,
      seedMs,
      heapLimitMb: reportedHeapLimit(opts.workerLog),
      backfill,
      samples: spreadSamples(all, SAMPLES_KEPT),
      peakWorkerRssBytes: backfill.peakRssBytes,
      peakBenchRssBytes: peakBench,
      check,
    };
  } finally {
    clearInterval(timer);
    await ctx.worker?.stop();
    await db.close().catch(() => {});
    await sim.close().catch(() => {});
  }
}
