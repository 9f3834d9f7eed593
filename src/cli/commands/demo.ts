import { z } from "zod";
import type { Command } from "../command.ts";
import { commandOptions } from "../options.ts";
import { readEnv } from "../../core/config.ts";
import { runDemo } from "../../tools/demo/run-demo.ts";
import { LatencyFlag } from "../../tools/shared/flags.ts";

const truthy = (v: string | undefined) => v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";

const Options = z.object({
  exit: z.boolean().default(false),
  records: z.coerce.number().int().min(100).max(1_000_000).default(20_000),
  tier: z.enum(["free", "pro"]).default("free"),
  latency: LatencyFlag.prefault("30-80"),
  "write-back": z.boolean().default(false),
});

const USAGE = `usage: hubsync demo [--records N] [--tier free|pro] [--latency MS|MIN-MAX] [--write-back] [--exit]

Starts an embedded PostgreSQL (under .hubsync/demo/) and a seeded HubSpot simulator, installs hubsync,
enables contacts, companies, deals and tickets (write-back on contacts), runs the worker with live
progress and a write-back round trip, and keeps it all running until Ctrl-C. With DATABASE_URL and
HUBSPOT_ACCESS_TOKEN set, runs against your database and portal instead.
  --records N      records in the simulated portal (default: HUBSYNC_DEMO_RECORDS, else 20000)
  --tier T         the simulated HubSpot tier whose rate limits apply (default free)
  --latency MS     simulated HubSpot latency per request, MS or MIN-MAX (default 30-80)
  --write-back     against your own portal: write-back on contacts too (it is read-only otherwise)
  --exit           exit after the summary instead of staying open (or HUBSYNC_DEMO_EXIT=1)`;

export const command: Command = {
  async run(argv) {
    const parsed = commandOptions(
      "demo",
      argv,
      {
        exit: { type: "boolean" },
        records: { type: "string" },
        tier: { type: "string" },
        latency: { type: "string" },
        "write-back": { type: "boolean" },
      },
      Options,
      USAGE,
      { fallbacks: { exit: truthy(process.env.HUBSYNC_DEMO_EXIT), records: process.env.HUBSYNC_DEMO_RECORDS } },
    );
    if ("exit" in parsed) return parsed.exit;
    const o = parsed.options;
    return runDemo(
      { exit: o.exit, records: o.records, tier: o.tier, latencyMs: o.latency, writeBack: o["write-back"], dataDir: ".hubsync/demo", backfillTimeoutMs: 10 * 60_000 },
      readEnv(),
    );
  },
};
