import { parseArgs } from "node:util";
import { z } from "zod";
import type { Command } from "../main.ts";
import { readEnv } from "../../core/config.ts";
import { runDemo } from "../../tools/demo/run-demo.ts";

const truthy = (v: string | undefined) => v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";

const Options = z.object({
  exit: z.boolean(),
  records: z.coerce.number().int().min(100).max(1_000_000),
  tier: z.enum(["free", "pro"]),
  latency: z
    .string()
    .regex(/^\d+(-\d+)?$/, "--latency is MS or MIN-MAX")
    .transform((s) => {
      const [min, max] = s.split("-").map(Number);
      return { min: min!, max: max ?? min! };
    }),
  writeBack: z.boolean(),
});

export const command: Command = {
  summary: "the whole job in a minute, on an embedded PostgreSQL",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        exit: { type: "boolean", default: false },
        records: { type: "string" },
        tier: { type: "string" },
        latency: { type: "string" },
        "write-back": { type: "boolean", default: false },
      },
      strict: true,
    });
    const o = Options.parse({
      exit: values.exit || truthy(process.env.HUBSYNC_DEMO_EXIT),
      records: values.records ?? process.env.HUBSYNC_DEMO_RECORDS ?? 20_000,
      tier: values.tier ?? "free",
      latency: values.latency ?? "30-80",
      writeBack: values["write-back"],
    });
    return runDemo(
      { exit: o.exit, records: o.records, tier: o.tier, latencyMs: o.latency, writeBack: o.writeBack, dataDir: ".hubsync/demo", backfillTimeoutMs: 10 * 60_000 },
      readEnv(),
    );
  },
};
