import { createPool } from "../db/pool.ts";
import { log as rootLog, type Logger } from "../log.ts";
import type { WebhookConfig } from "./config.ts";
import { startReceiver, type RunningReceiver } from "./receiver.ts";

/**
 * The receiver with its own small pool, as `hubsync webhooks` and `hubsync worker --webhooks-port`
 * run it. At start it queues one apply run: rows a crashed process left in the inbox are applied
 * without waiting for the next webhook.
 */
export async function serveWebhooks(opts: { databaseUrl: string; config: WebhookConfig; log?: Logger }): Promise<RunningReceiver> {
  const log = opts.log ?? rootLog;
  const pool = createPool(opts.databaseUrl, { max: 10, applicationName: "hubsync webhooks" });
  try {
    const { rows } = await pool.query<{ ok: boolean }>(
      `select to_regclass('hubsync.webhook_events') is not null and to_regprocedure('hubsync._wake_webhook_apply(timestamptz)') is not null as ok`,
    );
    if (!rows[0]?.ok) throw new Error("hubsync webhooks: the webhook inbox is not installed in this database; run `hubsync install` first");
    await pool.query(`select hubsync._wake_webhook_apply()`);
    const receiver = await startReceiver({ pool, config: opts.config, log });
    return {
      ...receiver,
      async close() {
        await receiver.close();
        await pool.end();
      },
    };
  } catch (err) {
    await pool.end();
    throw err;
  }
}
