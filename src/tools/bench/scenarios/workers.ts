import { z } from "zod";
import { createBenchDatabase } from "../../shared/database.ts";
import { seedSizeFor, SYNCED_TYPES } from "../../shared/objects.ts";
import { BURST_LIMIT_PER_10S, startBenchSimulator, type LoggedRequest, type Tier } from "../../shared/sim.ts";
import { startWorkerProcess, type WorkerProcess } from "../../shared/worker-process.ts";
import { naiveHttp } from "../naive.ts";
import { checkCopy, hubsyncTable, type CopyCheck } from "../verify.ts";
import { hubsyncBackfill } from "./backfill.ts";
import type { TierContext } from "./context.ts";
import { backfillBound } from "../bound.ts";

/**
 * Scale-out: the same backfill done by 1, 2 and 4 `hubsync worker` processes sharing one database
 * (graphile-worker hands each job to one of them) against one portal. HubSpot's limit is per
 * portal and every process takes its calls from the one rate budget kept in the database, so more
 * processes cannot copy faster; what they buy is that the work goes on when one of them stops.
 */
export interface WorkerCountFigures {
  workers: number;
  records: number;
  ms: number;
  recordsPerSecond: number;
  ratioToMax: number;
  calls: number;
  rateLimited: number;
  /** Runs of hubsync's jobs by kind (hubsync.runs): the same work whatever the number of processes. */
  runs: Record<string, number>;
  failedRuns: number;
  /** What the failed runs said (kind: error), so a failure names its cause. */
  failedRunErrors: string[];
  /** Records the backfill runs read, summed: more than `records` if a page was done twice. */
  recordsRead: number;
  /** List-page GETs answered 200 with the same path and query as an earlier one (a backfill page read twice). */
  repeatedReads: number;
  /** Highest peak RSS among the processes. */
  peakRssBytes: number | null;
  check: CopyCheck;
}

export interface WorkerCountOptions {
  counts: number[];
  records: number;
  tier: Tier;
  latencyMs: { min: number; max: number };
  seed: number;
  timeoutMs: number;
  /** worker-<n>-<i>.log per process. */
  logPrefix: string;
}

/**
 * List pages read again (GET /…/objects/<type>?…, the backfill's pages). Reads of single records'
 * associations are left out: the refresh after a pull and the sweep may each read the same ones,
 * as two jobs doing their own work.
 */
export function repeatedReads(requests: LoggedRequest[]): number {
  const seen = new Set<string>();
  let repeated = 0;
  for (const r of requests) {
    if (r.method !== "GET" || r.status !== 200 || !/\/objects\/(?:\d{4}-\d{2}\/)?[^/?]+\?/.test(r.path)) continue;
    if (seen.has(r.path)) repeated++;
    else seen.add(r.path);
  }
  return repeated;
}

const RunRow = z.object({ kind: z.string(), n: z.coerce.number(), failed: z.coerce.number(), records: z.coerce.number() });

async function oneCount(adminUrl: string, n: number, opts: WorkerCountOptions, note: (m: string) => void): Promise<WorkerCountFigures> {
  const sim = await startBenchSimulator({ tier: opts.tier, latencyMs: opts.latencyMs, seedSize: seedSizeFor(opts.records), seed: opts.seed });
  const db = await createBenchDatabase(adminUrl, `workers${n}`);
  const processes: WorkerProcess[] = [];
  try {
    for (let i = 0; i < n; i++) {
      processes.push(
        startWorkerProcess({ databaseUrl: db.url, hubspotUrl: sim.url, token: sim.token, logFile: `${opts.logPrefix}-${n}-${i + 1}.log` }),
      );
    }
    const ctx: TierContext = {
      tier: opts.tier,
      limitPer10s: BURST_LIMIT_PER_10S[opts.tier],
      sim,
      db,
      http: naiveHttp(sim.url, sim.token),
      worker: processes[0]!,
      workerLog: `${opts.logPrefix}-${n}-1.log`,
      note: (m) => note(`[workers ×${n}]${m}`),
      bound: backfillBound(BURST_LIMIT_PER_10S[opts.tier], sim.store, SYNCED_TYPES.map((t) => t.type)),
    };
    const since = Date.now();
    const b = await hubsyncBackfill(ctx, opts.timeoutMs);
    const requests = await sim.requestsSince(since);
    const peaks = processes.map((p) => p.peakRss()).filter((v): v is number => v !== null);
    // stopped ones leave the list: the finally below stops only what is still running
    for (let i = 1; processes.length > 0; i++) {
      const code = await processes.shift()!.stop();
      if (code !== 0) throw new Error(`hubsync worker ${i} of ${n} exited with code ${code} (log: ${opts.logPrefix}-${n}-${i}.log)`);
    }
    const rows = z.array(RunRow).parse(
      (
        await db.pool.query(
          `select kind, count(*) as n, count(*) filter (where status = 'error') as failed, sum(records) as records
             from hubsync.runs group by kind order by kind`,
        )
      ).rows,
    );
    const failedRunErrors = (
      await db.pool.query<{ line: string }>(`select kind || ': ' || coalesce(error, '(no error recorded)') as line from hubsync.runs where status = 'error' order by id`)
    ).rows.map((r) => r.line);
    const check = await checkCopy(db.pool, sim, "hubsync", (t) => hubsyncTable(db.pool, t));
    return {
      workers: n,
      records: b.records,
      ms: b.ms,
      recordsPerSecond: b.recordsPerSecond,
      ratioToMax: b.ratioToMax,
      calls: b.calls,
      rateLimited: b.rateLimited,
      runs: Object.fromEntries(rows.map((r) => [r.kind, r.n])),
      failedRuns: rows.reduce((s, r) => s + r.failed, 0),
      failedRunErrors,
      recordsRead: rows.find((r) => r.kind === "backfill")?.records ?? 0,
      repeatedReads: repeatedReads(requests),
      peakRssBytes: peaks.length ? Math.max(...peaks) : null,
      check,
    };
  } finally {
    for (const p of processes) await p.stop();
    await db.close().catch(() => {});
    await sim.close().catch(() => {});
  }
}

export async function workerCounts(adminUrl: string, opts: WorkerCountOptions, note: (m: string) => void): Promise<WorkerCountFigures[]> {
  const out: WorkerCountFigures[] = [];
  for (const n of opts.counts) {
    note(`[workers ×${n}] backfill of ~${opts.records.toLocaleString("en-US")} records by ${n} worker process${n === 1 ? "" : "es"} on one database`);
    out.push(await oneCount(adminUrl, n, opts, note));
  }
  return out;
}
