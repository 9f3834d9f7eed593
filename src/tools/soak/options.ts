import { parseArgs } from "node:util";
import { z } from "zod";

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

const num = z.coerce.number();

export function parseSoakArgs(argv: string[]): SoakOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: "string" },
      tier: { type: "string" },
      faults: { type: "string" },
      size: { type: "string" },
      rate: { type: "string" },
      webhooks: { type: "boolean", default: false },
      "kill-every": { type: "string" },
      latency: { type: "string" },
      "index-lag": { type: "string" },
      settle: { type: "string" },
      progress: { type: "string" },
      out: { type: "string" },
      seed: { type: "string" },
      concurrency: { type: "string" },
    },
    strict: true,
  });
  const opt = <T>(v: string | undefined, parse: (s: string) => T, fallback: T): T => (v === undefined ? fallback : parse(v));
  const [min, max] = (values.latency ?? `${SOAK_DEFAULTS.latencyMs.min}-${SOAK_DEFAULTS.latencyMs.max}`).split("-").map((s) => num.parse(s));
  return SoakOptions.parse({
    ...SOAK_DEFAULTS,
    minutes: opt(values.minutes, num.parse, SOAK_DEFAULTS.minutes),
    tier: values.tier ?? SOAK_DEFAULTS.tier,
    faults: opt(values.faults, num.parse, SOAK_DEFAULTS.faults),
    size: opt(values.size, num.parse, SOAK_DEFAULTS.size),
    rate: opt(values.rate, num.parse, SOAK_DEFAULTS.rate),
    webhooks: values.webhooks,
    killEverySeconds: opt(values["kill-every"], num.parse, SOAK_DEFAULTS.killEverySeconds),
    latencyMs: { min, max: max ?? min },
    indexLagMs: opt(values["index-lag"], num.parse, SOAK_DEFAULTS.indexLagMs),
    settleTimeoutMs: opt(values.settle, (s) => num.parse(s) * 1000, SOAK_DEFAULTS.settleTimeoutMs),
    progressEverySeconds: opt(values.progress, num.parse, SOAK_DEFAULTS.progressEverySeconds),
    out: values.out ?? null,
    seed: opt(values.seed, num.parse, SOAK_DEFAULTS.seed),
    concurrency: opt(values.concurrency, num.parse, undefined),
  });
}
