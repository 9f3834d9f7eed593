import type { ParseArgsOptionsConfig } from "node:util";
import { z } from "zod";
import { LatencyFlag } from "../shared/flags.ts";

export const SCENARIOS = ["tiers", "scale", "workers"] as const;

/** `hubsync bench` options: sizes default to the full run; --quick shrinks them for a smoke check under two minutes. */
export const BenchOptions = z.object({
  quick: z.boolean(),
  tiers: z.array(z.enum(["free", "pro"])).min(1),
  backfillRecords: z.number().int().min(10),
  changes: z.number().int().min(1),
  pushRows: z.number().int().min(1),
  naivePushSample: z.number().int().min(1),
  pushBatch: z.number().int().min(1),
  pushIntervalMs: z.number().int().min(0),
  latencyMs: z.object({ min: z.number().int().min(0), max: z.number().int().min(0) }).refine((l) => l.max >= l.min, "latency max < min"),
  /** Edits made in the simulator for the webhook scenario, 100–200 ms apart (60: about 9 s). */
  webhookChanges: z.number().int().min(1).default(60),
  triggerSeconds: z.number().int().min(1),
  triggerRounds: z.number().int().min(1),
  /** Where results.md / results.json go. */
  outDir: z.string().min(1),
  timeoutMs: z.number().int().min(1000),
  seed: z.number().int(),
  /** Which parts run: the per-tier scenarios (backfill, incremental, write-back, webhooks, trigger), the scale and the worker-count runs. */
  scenarios: z.array(z.enum(SCENARIOS)).min(1),
  /** Contacts of the scale scenario (Pro tier); 0 skips it. */
  scaleContacts: z.number().int().min(0),
  /** `hubsync worker` processes per run of the scale-out scenario; empty skips it. */
  workerCounts: z.array(z.number().int().min(1).max(16)),
  workerRecords: z.number().int().min(10),
});
export type BenchOptions = z.infer<typeof BenchOptions>;

const FULL = {
  tiers: "free,pro",
  backfillRecords: 100_000,
  changes: 10_000,
  pushRows: 10_000,
  naivePushSample: 400,
  triggerSeconds: 10,
  triggerRounds: 3,
  outDir: "bench",
  timeoutMs: 30 * 60_000,
  // a million contacts at Pro's 1,900 records/s: about 9 minutes
  scaleContacts: 1_000_000,
  workerCounts: [1, 2, 4],
  workerRecords: 50_000,
};

const QUICK = {
  // one tier keeps the smoke check well under two minutes on a busy 2-core machine (--tiers free,pro for both)
  tiers: "pro",
  backfillRecords: 1_500,
  changes: 400,
  pushRows: 1_000,
  naivePushSample: 40,
  triggerSeconds: 3,
  triggerRounds: 1,
  outDir: ".hubsync/bench",
  timeoutMs: 5 * 60_000,
  // neither fits in two minutes beside the rest; --scale N and --workers 1,2 run them anyway
  scaleContacts: 0,
  workerCounts: [] as number[],
  workerRecords: 5_000,
};

/** The flags of `hubsync bench`, as parseArgs reads them (src/cli/commands/bench.ts). */
export const BENCH_FLAGS = {
  quick: { type: "boolean" },
  tiers: { type: "string" },
  records: { type: "string" },
  changes: { type: "string" },
  "push-rows": { type: "string" },
  latency: { type: "string" },
  out: { type: "string" },
  only: { type: "string" },
  scale: { type: "string" },
  workers: { type: "string" },
  "workers-records": { type: "string" },
} as const satisfies ParseArgsOptionsConfig;

/** A comma-separated flag whose items must each be one of `item`. */
const list = <T extends string>(item: z.ZodType<T, string>) =>
  z
    .string()
    .transform((s) => s.split(",").map((t) => t.trim()))
    .pipe(z.array(item).min(1));

/** Those flags checked one by one (a bad value is named by its flag), then turned into BenchOptions. */
export const BenchFlags = z
  .object({
    quick: z.boolean().default(false),
    tiers: list(z.enum(["free", "pro"])).optional(),
    records: z.coerce.number().int().min(10).optional(),
    changes: z.coerce.number().int().min(1).optional(),
    "push-rows": z.coerce.number().int().min(1).optional(),
    latency: LatencyFlag.prefault("30-80"),
    out: z.string().min(1).optional(),
    only: list(z.enum(SCENARIOS)).optional(),
    scale: z.coerce.number().int().min(0).optional(),
    workers: z
      .string()
      .transform((s) => (s.trim() === "0" ? [] : s.split(",").map((t) => Number(t.trim()))))
      .pipe(z.array(z.number().int().min(1).max(16)))
      .optional(),
    "workers-records": z.coerce.number().int().min(10).optional(),
  })
  .transform((v) => {
    const base = v.quick ? QUICK : FULL;
    return BenchOptions.parse({
      ...base,
      quick: v.quick,
      tiers: v.tiers ?? base.tiers.split(","),
      backfillRecords: v.records ?? base.backfillRecords,
      changes: v.changes ?? base.changes,
      pushRows: v["push-rows"] ?? base.pushRows,
      pushBatch: 100,
      // 400 rows/s: a steady stream both tiers' limits can carry (free: 97 calls/10 s ≈ 970 rows/s at 100 per call)
      pushIntervalMs: 250,
      latencyMs: v.latency,
      outDir: v.out ?? base.outDir,
      seed: 42,
      scenarios: v.only ?? [...SCENARIOS],
      scaleContacts: v.scale ?? base.scaleContacts,
      workerCounts: v.workers ?? base.workerCounts,
      workerRecords: v["workers-records"] ?? base.workerRecords,
    });
  });
