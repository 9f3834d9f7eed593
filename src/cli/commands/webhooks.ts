import { z } from "zod";
import type { Command } from "../command.ts";
import { commandOptions, untilStopSignal } from "../options.ts";
import { readEnv, requireDatabaseUrl } from "../../core/config.ts";
import { readWebhookConfig } from "../../core/webhooks/config.ts";
import { WEBHOOK_PATH } from "../../core/webhooks/receiver.ts";
import { serveWebhooks } from "../../core/webhooks/serve.ts";
import { startOperations } from "../../core/operations/serve.ts";
import { log } from "../../core/log.ts";

/** `hubsync webhooks`: the webhook receiver alone (the worker applies what it stores), until SIGINT/SIGTERM. */

const Options = z.object({
  port: z.coerce.number().int().min(0).max(65_535).optional(),
  host: z.string().min(1).optional(),
  "metrics-port": z.coerce.number().int().min(0).max(65_535).optional(),
  "metrics-host": z.string().min(1).optional(),
});

const USAGE = `usage: hubsync webhooks [--port N] [--host H] [--metrics-port N [--metrics-host H]]

Receives HubSpot's webhook batches on POST ${WEBHOOK_PATH} (GET /healthz for probes), checks their
signature and stores them for the worker, which applies them within a second or two.
  --port N   the port to listen on (default: HUBSYNC_WEBHOOK_PORT, else 8090)
  --host H   the address to listen on (default: HUBSYNC_WEBHOOK_HOST, else 0.0.0.0)
  --metrics-port N   serve Prometheus metrics on GET /metrics on this port (default: HUBSYNC_METRICS_PORT, else none)
  --metrics-host H   the address the metrics server listens on (default 0.0.0.0)
It also checks hubsync.alerts (so "no worker running" reaches a person when every worker is down).
env: DATABASE_URL, HUBSPOT_WEBHOOK_SECRET (required), HUBSYNC_WEBHOOK_PORT (8090), HUBSYNC_WEBHOOK_HOST (0.0.0.0),
       HUBSYNC_WEBHOOK_SIGNATURES (v3), HUBSYNC_WEBHOOK_PUBLIC_URL, HUBSYNC_WEBHOOK_RATE (100/s), HUBSYNC_WEBHOOK_BURST (200),
       HUBSYNC_ALERT_WEBHOOK_URL`;

export const command: Command = {
  async run(argv) {
    const parsed = commandOptions(
      "webhooks",
      argv,
      { port: { type: "string" }, host: { type: "string" }, "metrics-port": { type: "string" }, "metrics-host": { type: "string" } },
      Options,
      USAGE,
      { fallbacks: { "metrics-port": process.env.HUBSYNC_METRICS_PORT || undefined } },
    );
    if ("exit" in parsed) return parsed.exit;
    const { "metrics-port": metricsPort, "metrics-host": metricsHost, ...listen } = parsed.options;
    const config = readWebhookConfig(process.env, listen);
    const env = readEnv();
    const receiver = await serveWebhooks({ databaseUrl: requireDatabaseUrl(env), config });
    const operations = await startOperations({
      databaseUrl: requireDatabaseUrl(env),
      component: "webhooks",
      metricsPort,
      metricsHost,
      alertWebhookUrl: env.HUBSYNC_ALERT_WEBHOOK_URL,
      log,
    }).catch(async (err: unknown) => {
      await receiver.close();
      throw err;
    });
    process.stdout.write(`hubsync webhooks: listening on ${receiver.url}${WEBHOOK_PATH} (signatures ${config.accept.join(", ")})\n`);
    if (operations.metricsUrl) process.stdout.write(`hubsync webhooks: metrics on ${operations.metricsUrl}\n`);
    await untilStopSignal();
    await operations.close();
    await receiver.close();
    return 0;
  },
};
