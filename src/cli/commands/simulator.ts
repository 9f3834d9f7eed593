import { z } from "zod";
import { TIERS } from "../../simulator/config.ts";
import { SIGNATURE_VERSIONS } from "../../core/webhooks/signature.ts";
import { startSimulator } from "../../simulator/index.ts";
import type { Command } from "../command.ts";
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
  "webhook-signature": z
    .string()
    .default("v3,v1")
    .transform((s) => s.split(",").map((v) => v.trim().toLowerCase()).filter(Boolean))
    .pipe(z.array(z.enum(SIGNATURE_VERSIONS)).min(1)),
}).refine((o) => o["webhook-url"] === undefined || o["webhook-secret"] !== undefined, {
  message: "--webhook-url needs --webhook-secret (the app's client secret the receiver checks signatures with)",
  path: ["webhook-secret"],
});

const USAGE = `usage: hubsync simulator [--port N] [--seed N] [--tier free|starter|pro|enterprise] [--latency MS] [--index-lag MS]
                          [--token T] [--host H] [--random-seed N] [--no-rate-limits] [--properties N] [--small-catalog]
                          [--webhook-url URL --webhook-secret S [--webhook-signature v3,v1]]

Serves HubSpot's CRM API (objects, search, associations, properties, pipelines, owners) from memory,
with its rate limits, until SIGINT/SIGTERM; a control API under /_sim/ seeds it and injects faults.
  --port N               the port to listen on (default 8080; 0 picks a free one)
  --host H               the address to listen on (default 127.0.0.1)
  --seed N               start with a generated portal of about N records (deterministic; see --random-seed)
  --random-seed N        the seed of that portal (default 1)
  --tier T               the HubSpot tier whose rate limits apply (default pro)
  --latency MS           added to every response (default 0)
  --index-lag MS         how late search sees changes, as HubSpot's search index (default 0)
  --token T              the access token it accepts (default sim-token)
  --no-rate-limits       answer every request, never 429
  --properties N         add N custom properties to contacts, companies and deals (on top of a catalog
                         of HubSpot's size: about 370 contact properties, hundreds on companies and deals)
  --small-catalog        only the few dozen built-in properties per type (faster, less like HubSpot)
  --webhook-url URL      POST signed HubSpot webhook batches of every change to URL
  --webhook-secret S     the app's client secret those batches are signed with
  --webhook-signature L  the signature versions to send, comma-separated (default v3,v1: HubSpot sends
                         the v3 header and the older ones on one request)`;

export const command: Command = {
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
      webhooks: o["webhook-url"] ? { targetUrl: o["webhook-url"], secret: o["webhook-secret"]!, signatures: o["webhook-signature"] } : undefined,
    });
    process.stdout.write(
      `HubSpot simulator listening on ${sim.url} (tier ${o.tier}${o.seed !== undefined ? `, seeded with ~${o.seed} records` : ""})\n` +
        `  HUBSPOT_BASE_URL=${sim.url}\n  HUBSPOT_ACCESS_TOKEN=${sim.token}\n  control API: ${sim.url}/_sim/...\n` +
        (o["webhook-url"] ? `  webhooks: every change POSTed to ${o["webhook-url"]} (signatures ${o["webhook-signature"].join(", ")})\n` : ""),
    );
    await untilStopSignal();
    await sim.close();
    return 0;
  },
};
