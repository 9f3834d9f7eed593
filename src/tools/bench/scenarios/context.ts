import type { BenchDatabase } from "../../shared/database.ts";
import type { NaiveHttp } from "../naive.ts";
import type { BenchSim, Tier } from "../../shared/sim.ts";
import type { WorkerProcess } from "../../shared/worker-process.ts";
import { RECORDS_PER_CALL, type Bound } from "../bound.ts";

/** Everything one tier's scenarios share: its simulator, its database, the naive script's client, and the worker once started. */
export interface TierContext {
  tier: Tier;
  limitPer10s: number;
  /** What HubSpot's limits allow through the channels that can carry this portal's catalog (bound.ts). */
  bound: Bound;
  sim: BenchSim;
  db: BenchDatabase;
  http: NaiveHttp;
  worker: WorkerProcess | null;
  workerLog: string;
  /** Progress lines (stderr) so a long run is not silent. */
  note(message: string): void;
}

/** The most records per second any client can copy at this burst limit: limit per 10 s × 100 records per call ÷ 10 s. */
export function maxRecordsPerSecond(limitPer10s: number): number {
  return (limitPer10s * RECORDS_PER_CALL) / 10;
}

/** For a wait on the worker's work: fails it at once when the worker process died instead of waiting out its limit. */
export function workerDied(ctx: TierContext): () => string | null {
  return () => ctx.worker?.died() ?? null;
}
