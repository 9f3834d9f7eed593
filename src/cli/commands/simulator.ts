import { z } from "zod";
import { TIERS } from "../../simulator/config.ts";
import { SIGNATURE_VERSIONS } from "../../core/webhooks/signature.ts";
import { startSimulator } from "../../simulator/index.ts";
import type { Command } from "../main.ts";
import { commandOptions, untilStopSignal } from "../options.ts";

/** `hubsync simulator`: the HubSpot simulator as a long-running server, until SIGINT/SIGTERM. */

const Options = z.object({
  port: z.coerce.number().int().min(0).max(65_535).default(8_080),
  host: z.string().default("127.0.0.1"),
  seed: z.coerce.number().int().min(0).optional(),
  "random-seed": z.coerce.number().int().default(1),
  tier: z.enum(TIERS).default("pro"),
  latency: z.coerce.number().min(0).default(0),
  "index-lag": z.coerce.number().min(0).default(0),
  properties: z.coerce.number().int().min(0).default(0),
  "small-catalog": z.boolean().default(false),
  token: z.string().min(1).default("sim-token"),
  "no-rate-limits": z.boolean().default(false),
  "webhook-url": z.url({ protocol: /^https?$/ }).optional(),
  "webhook-secret": z.string().min(1).optional(),
  "webhook-signature": z.enum(SIGNATURE_VERSIONS).default("v3"),
}).refine((o) => o["webhook-url"] === undefined || o["webhook-secret"] !== undefined, {
  message: "--webhook-url needs --webhook-secret (the app's client secret the receiver checks signatures with)",
  path: ["webhook-secret"],
});

const USAGE = `usage: hubsync simulator [--port N] [--seed N] [--tier free|starter|pro|enterprise] [--latency MS] [--index-lag MS]
                          [--token T] [--host H] [--random-seed N] [--no-rate-limits] [--properties N] [--small-catalog]
                          [--webhook-url URL --webhook-secret S [--webhook-signature v1|v2|v3]]

  --seed N         start with a generated portal of about N records (deterministic; see --random-seed)
  --properties N   add N custom properties to contacts, companies and deals (on top of HubSpot's
                   default catalog: about 370 contact properties, hundreds on companies and deals)
  --small-catalog  only the few dozen built-in properties per type (faster, less like HubSpot)
  --webhook-url    POST signed HubSpot webhook batches of every change to URL (default signature v3)`;

export const command: Command = {
  summary: "run the HubSpot simulator",
  async run(argv) {
    const parsed = commandOptions(
      "simulator",
      argv,
      {
        port: { type: "string" },
        host: { type: "string" },
        seed: { type: "string" },
        "random-seed": { type: "string" },
        tier: { type: "string" },
        latency: { type: "string" },
        "index-lag": { type: "string" },
        properties: { type: "string" },
        "small-catalog": { type: "boolean" },
        token: { type: "string" },
        "no-rate-limits": { type: "boolean" },
        "webhook-url": { type: "string" },
        "webhook-secret": { type: "string" },
        "webhook-signature": { type: "string" },
      },
      Options,
      USAGE,
    );
    if ("exit" in parsed) return parsed.exit;
    const o = parsed.options;
    const sim = await startSimulator({
      port: o.port,
      host: o.host,
      tier: o.tier,
      token: o.token,
      latencyMs: o.latency,
      indexLagMs: o["index-lag"],
      rateLimits: o["no-rate-limits"] ? false : {},
      seed: o.seed !== undefined ? { size: o.seed, seed: o["random-seed"] } : undefined,
      catalog: { realistic: !o["small-catalog"], custom: o.properties },
      webhooks: o["webhook-url"] ? { targetUrl: o["webhook-url"], secret: o["webhook-secret"]!, signatureVersion: o["webhook-signature"] } : undefined,
    });
    process.stdout.write(
      `HubSpot simulator listening on ${sim.url} (tier ${o.tier}${o.seed !== undefined ? `, seeded with ~${o.seed} records` : ""})\n` +
        `  HUBSPOT_BASE_URL=${sim.url}\n  HUBSPOT_ACCESS_TOKEN=${sim.token}\n  control API: ${sim.url}/_sim/...\n` +
        (o["webhook-url"] ? `  webhooks: every change POSTed to ${o["webhook-url"]} (signature ${o["webhook-signature"]})\n` : ""),
    );
    await untilStopSignal();
    await sim.close();
    return 0;
  },
};
