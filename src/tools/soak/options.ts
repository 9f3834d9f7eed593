import type { ParseArgsOptionsConfig } from "node:util";

import { z } from "zod";
import { LatencyFlag } from "../shared/flags.ts";

/**
 * `hubsync soak` options. Defaults are the hour-long run (`make soak`); the CI test passes its own
 * small figures through the same schema.
 */
export const SoakOptions = z.object({
  /** How long changes are made (quiescence and the comparison come after). */
  minutes: z.number().positive().max(24 * 60),
  tier: z.enum(["free", "pro"]),
  /** Share of HubSpot requests that meet a fault (5xx, timeout, dropped connection, lost response). */
  faults: z.number().min(0).max(0.5),
  /** Seeded portal size (records over every object type; about 46% are of the four synced types). */
  size: z.number().int().min(50).max(500_000),
  /** Changes per second, both sides together. */
  rate: z.number().positive().max(200),
  /** HubSpot → PostgreSQL through webhooks too: the simulator sends signed batches to the worker's receiver (`--webhooks-port`). */
  webhooks: z.boolean(),
  /** SIGKILL the worker this often (0 = never): restarts must lose nothing. */
  killEverySeconds: z.number().min(0),
  latencyMs: z.object({ min: z.number().int().min(0), max: z.number().int().min(0) }).refine((l) => l.max >= l.min, "latency max < min"),
  /** How late search sees changes (HubSpot's search index lag). */
  indexLagMs: z.number().int().min(0),
  /** How long a "timeout" fault holds the request before the connection is cut. */
  faultTimeoutMs: z.number().int().min(100),
  /** How long to wait for the copy to converge once the changes stop. */
  settleTimeoutMs: z.number().int().min(1_000),
  progressEverySeconds: z.number().positive(),
  /** Markdown report written here (besides the text on stdout); null = none. */
  out: z.string().min(1).nullable(),
  seed: z.number().int(),
  /** Worker concurrency (HUBSYNC_WORKER_CONCURRENCY's default when absent). */
  concurrency: z.number().int().min(1).max(100).optional(),
});
export type SoakOptions = z.infer<typeof SoakOptions>;
export type SoakOptionsInput = z.input<typeof SoakOptions>;

export const SOAK_DEFAULTS = {
  minutes: 60,
  tier: "free",
  faults: 0.02,
  size: 5_000,
  rate: 2,
  webhooks: false,
  killEverySeconds: 0,
  latencyMs: { min: 30, max: 80 },
  indexLagMs: 2_000,
  faultTimeoutMs: 5_000,
  settleTimeoutMs: 10 * 60_000,
  progressEverySeconds: 30,
  out: null,
  seed: 7,
} as const satisfies SoakOptionsInput;

/** The flags of `hubsync soak`, as parseArgs reads them (src/cli/commands/soak.ts). */
export const SOAK_FLAGS = {
  minutes: { type: "string" },
  tier: { type: "string" },
  faults: { type: "string" },
  size: { type: "string" },
  rate: { type: "string" },
  webhooks: { type: "boolean" },
  "kill-every": { type: "string" },
  latency: { type: "string" },
  "index-lag": { type: "string" },
  settle: { type: "string" },
  progress: { type: "string" },
  out: { type: "string" },
  seed: { type: "string" },
  concurrency: { type: "string" },
} as const satisfies ParseArgsOptionsConfig;

const num = z.coerce.number();
const field = SoakOptions.shape;

/** Those flags checked one by one against SoakOptions' rules (a bad value is named by its flag), then turned into SoakOptions. */
export const SoakFlags = z
  .object({
    minutes: num.pipe(field.minutes).default(SOAK_DEFAULTS.minutes),
    tier: field.tier.default(SOAK_DEFAULTS.tier),
    faults: num.pipe(field.faults).default(SOAK_DEFAULTS.faults),
    size: num.pipe(field.size).default(SOAK_DEFAULTS.size),
    rate: num.pipe(field.rate).default(SOAK_DEFAULTS.rate),
    webhooks: z.boolean().default(SOAK_DEFAULTS.webhooks),
    "kill-every": num.pipe(field.killEverySeconds).default(SOAK_DEFAULTS.killEverySeconds),
    latency: LatencyFlag.prefault(`${SOAK_DEFAULTS.latencyMs.min}-${SOAK_DEFAULTS.latencyMs.max}`),
    "index-lag": num.pipe(field.indexLagMs).default(SOAK_DEFAULTS.indexLagMs),
    settle: num.positive().transform((s) => s * 1000).pipe(field.settleTimeoutMs).optional(),
    progress: num.pipe(field.progressEverySeconds).default(SOAK_DEFAULTS.progressEverySeconds),
    out: z.string().min(1).optional(),
    seed: num.pipe(field.seed).default(SOAK_DEFAULTS.seed),
    concurrency: num.pipe(z.number().int().min(1).max(100)).optional(),
  })
  .transform((v) =>
    SoakOptions.parse({
      ...SOAK_DEFAULTS,
      minutes: v.minutes,
      tier: v.tier,
      faults: v.faults,
      size: v.size,
      rate: v.rate,
      webhooks: v.webhooks,
      killEverySeconds: v["kill-every"],
      latencyMs: v.latency,
      indexLagMs: v["index-lag"],
      settleTimeoutMs: v.settle ?? SOAK_DEFAULTS.settleTimeoutMs,
      progressEverySeconds: v.progress,
      out: v.out ?? null,
      seed: v.seed,
      concurrency: v.concurrency,
    }),
  );
