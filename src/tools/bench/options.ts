import { parseArgs } from "node:util";
import { z } from "zod";

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
  triggerSeconds: z.number().int().min(1),
  triggerRounds: z.number().int().min(1),
  /** Where results.md / results.json go. */
  outDir: z.string().min(1),
  timeoutMs: z.number().int().min(1000),
  seed: z.number().int(),
});
export type BenchOptions = z.infer<typeof BenchOptions>;

const FULL = {
  tiers: "free,pro",
  backfillRecords: 100_000,
  changes: 10_000,
  pushRows: 10_000,
  naivePushSample: 400,
  triggerSeconds: 10,
  triggerRounds: 2,
  outDir: "bench",
  timeoutMs: 30 * 60_000,
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
};

const int = z.coerce.number().int();

export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      tiers: { type: "string" },
      records: { type: "string" },
      changes: { type: "string" },
      "push-rows": { type: "string" },
      latency: { type: "string" },
      out: { type: "string" },
    },
    strict: true,
  });
  const base = values.quick ? QUICK : FULL;
  const [min, max] = (values.latency ?? "30-80").split("-").map((s) => int.parse(s));
  return BenchOptions.parse({
    ...base,
    quick: values.quick,
    tiers: (values.tiers ?? base.tiers).split(",").map((s) => s.trim()),
    backfillRecords: values.records !== undefined ? int.parse(values.records) : base.backfillRecords,
    changes: values.changes !== undefined ? int.parse(values.changes) : base.changes,
    pushRows: values["push-rows"] !== undefined ? int.parse(values["push-rows"]) : base.pushRows,
    pushBatch: 100,
    // 400 rows/s: a steady stream both tiers' limits can carry (free: 97 calls/10 s ≈ 970 rows/s at 100 per call)
    pushIntervalMs: 250,
    latencyMs: { min, max: max ?? min },
    outDir: values.out ?? base.outDir,
    seed: 42,
  });
}
