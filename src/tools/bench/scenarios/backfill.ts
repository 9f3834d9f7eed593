import { failedObjects, initialCopyDone, readSnapshot, type SyncSnapshot } from "../../shared/snapshot.ts";
import { naiveBackfill } from "../naive.ts";
import { SYNCED_TYPES } from "../../shared/objects.ts";
import { waitFor } from "../../shared/wait.ts";
import { startWorkerProcess } from "../../shared/worker-process.ts";
import { maxRecordsPerSecond, workerDied, type TierContext } from "./context.ts";

export interface BackfillFigures {
  records: number;
  associations: number;
  /** Until every record is copied (every object live): what records/s is measured over. */
  ms: number;
  /** Until the association tables are filled too (hubsync fills them after both ends are live; the naive script reads them embedded). */
  totalMs: number;
  recordsPerSecond: number;
  /** records/s ÷ the rate-limited maximum of list and batch calls (maxRecordsPerSecond). */
  ratioToMax: number;
  /** records/s ÷ the bound through every channel that can carry the catalog (boundRecordsPerSecond). */
  ratioToBound: number;
  calls: number;
  callsPerRecord: number;
  rateLimited: number;
  /** Peak resident memory of the process doing the work (hubsync: the worker process). */
  peakRssBytes: number | null;
}

function figures(ctx: TierContext, f: Omit<BackfillFigures, "recordsPerSecond" | "ratioToMax" | "ratioToBound" | "callsPerRecord">): BackfillFigures {
  const recordsPerSecond = f.records / (f.ms / 1000);
  return {
    ...f,
    recordsPerSecond,
    ratioToMax: recordsPerSecond / maxRecordsPerSecond(ctx.limitPer10s),
    ratioToBound: recordsPerSecond / ctx.bound.boundRecordsPerSecond,
    callsPerRecord: f.records ? f.calls / f.records : 0,
  };
}

function describe(s: SyncSnapshot): string {
  return s.objects.map((o) => `${o.objectType} ${o.phase} ${o.rows}${o.lastError ? ` (${o.lastError})` : ""}`).join(", ") + `; initial jobs ${s.initialJobs}`;
}

/**
 * hubsync's initial copy: `hubsync worker` in its own process, then, once it is running,
 * enable_sync of the four types (write-back on contacts, as the demo does) — timed from the first
 * enable_sync until every type is live and no discover/backfill/association job is left.
 */
export async function hubsyncBackfill(ctx: TierContext, timeoutMs: number): Promise<BackfillFigures> {
  const types = SYNCED_TYPES.map((t) => t.type);
  ctx.worker ??= startWorkerProcess({ databaseUrl: ctx.db.url, hubspotUrl: ctx.sim.url, token: ctx.sim.token, logFile: ctx.workerLog });
  // timed from enable_sync against a running worker, not from the process's start (a worker told
  // to log less than info never says it started: then the clock starts after a generous wait)
  await Promise.race([ctx.worker.ready, new Promise((resolve) => setTimeout(resolve, 20_000).unref())]);
  await ctx.sim.resetTraffic();
  const started = Date.now();
  for (const t of types) {
    await ctx.db.pool.query(`select hubsync.enable_sync($1, null, $2)`, [t, t === "contacts"]);
  }
  let lastNote = 0;
  let recordsDoneAt: number | null = null;
  const done = await waitFor(
    "the backfill to finish",
    async () => {
      const s = await readSnapshot(ctx.db.pool);
      const failed = failedObjects(s, types);
      if (failed.length) throw new Error(`backfill failed: ${failed.map((o) => `${o.objectType}: ${o.lastError}`).join("; ")}`);
      if (Date.now() - lastNote > 15_000) {
        lastNote = Date.now();
        ctx.note(`  hubsync backfill: ${describe(s)}`);
      }
      if (recordsDoneAt === null && types.every((t) => s.objects.find((o) => o.objectType === t)?.phase === "live")) recordsDoneAt = Date.now();
      return initialCopyDone(s, types) ? s : undefined;
    },
    { timeoutMs, intervalMs: 250, describe: async () => describe(await readSnapshot(ctx.db.pool)), failIf: workerDied(ctx) },
  );
  const totalMs = Date.now() - started;
  const ms = (recordsDoneAt ?? Date.now()) - started;
  const traffic = await ctx.sim.traffic();
  const records = done.objects.filter((o) => types.includes(o.objectType)).reduce((n, o) => n + o.rows, 0);
  const associations = done.associations.reduce((n, a) => n + a.rows, 0);
  return figures(ctx, { records, associations, ms, totalMs, calls: traffic.requests, rateLimited: traffic.rateLimited, peakRssBytes: ctx.worker.peakRss() });
}

/** The same copy done by the hand-written script, in this process (its memory is not comparable: the simulator lives here too). */
export async function naiveBackfillRun(ctx: TierContext): Promise<BackfillFigures> {
  await ctx.sim.resetTraffic();
  const run = await naiveBackfill(ctx.db.pool, ctx.http, SYNCED_TYPES.map((t) => t.type));
  if (run.duplicates) ctx.note(`  naive backfill: ${run.duplicates} duplicate rows`);
  return figures(ctx, {
    records: run.records,
    associations: run.associations,
    ms: run.ms,
    totalMs: run.ms,
    calls: run.calls,
    rateLimited: run.rateLimited,
    peakRssBytes: null,
  });
}
