import { parseArgs } from "node:util";
import { z } from "zod";
import type { Command } from "../main.ts";
import { readEnv, requireDatabaseUrl } from "../../config.ts";
import { readWebhookConfig } from "../../webhooks/config.ts";
import { WEBHOOK_PATH } from "../../webhooks/receiver.ts";
import { serveWebhooks } from "../../webhooks/serve.ts";

/** `hubsync webhooks`: the webhook receiver alone (the worker applies what it stores), until SIGINT/SIGTERM. */

const Options = z.object({
  port: z.coerce.number().int().min(0).max(65_535).optional(),
  host: z.string().min(1).optional(),
});

const USAGE = `usage: hubsync webhooks [--port N] [--host H]

  Receives HubSpot's webhook batches on POST ${WEBHOOK_PATH} (GET /healthz for probes), checks their
  signature and stores them for the worker, which applies them within a second or two.
  env: DATABASE_URL, HUBSPOT_WEBHOOK_SECRET (required), HUBSYNC_WEBHOOK_PORT (8090), HUBSYNC_WEBHOOK_HOST (0.0.0.0),
       HUBSYNC_WEBHOOK_SIGNATURES (v3), HUBSYNC_WEBHOOK_PUBLIC_URL, HUBSYNC_WEBHOOK_RATE (100/s), HUBSYNC_WEBHOOK_BURST (200)`;

export const command: Command = {
  summary: "receive HubSpot webhooks into the inbox the worker applies",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { port: { type: "string" }, host: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const parsed = Options.safeParse(values);
    if (!parsed.success) {
      process.stderr.write(`hubsync webhooks: ${parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("; ")}\n${USAGE}\n`);
      return 2;
    }
    const config = readWebhookConfig(process.env, parsed.data);
    const receiver = await serveWebhooks({ databaseUrl: requireDatabaseUrl(readEnv()), config });
    process.stdout.write(`hubsync webhooks: listening on ${receiver.url}${WEBHOOK_PATH} (signatures ${config.accept.join(", ")})\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    await receiver.close();
    return 0;
  },
};
