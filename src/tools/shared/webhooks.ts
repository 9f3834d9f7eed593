import { randomBytes } from "node:crypto";
import type pg from "pg";
import { z } from "zod";
import { freePort } from "../shared/local-postgres.ts";
import type { SimulatorControl } from "../../simulator/index.ts";

/**
 * Webhooks for `hubsync soak --webhooks` and the bench: the simulator sends its signed webhook
 * batches (every change a HubSpot user makes) to the receiver inside `hubsync worker
 * --webhooks-port`, as HubSpot would to a public URL.
 */
export interface WebhookSetUp {
  /** `hubsync worker` options and environment. */
  workerArgs: string[];
  workerEnv: Record<string, string>;
  /** The receiver's health check, answering 200 once the worker listens. */
  healthUrl: string;
  /** Sends what the simulator still holds and waits until it was answered. */
  flush(): Promise<void>;
  /** The simulator stops sending (what it holds is dropped). */
  stop(): Promise<void>;
  figures(pool: pg.Pool): Promise<WebhookFigures>;
}

export interface WebhookFigures {
  /** HTTP requests the simulator sent, failed (non-2xx, no answer) and retried; batches dropped after the last attempt. */
  requests: number;
  failed: number;
  retried: number;
  dropped: number;
  events: number;
  /** The worker's inbox (hubsync.webhook_status). */
  applied: number;
  ignored: number;
  waiting: number;
  failedApply: number;
  /** HubSpot's occurredAt → applied in PostgreSQL, over the last hour. */
  lagP50Ms: number | null;
  lagP95Ms: number | null;
}

const InboxRow = z.object({
  pending: z.coerce.number(),
  failed: z.coerce.number(),
  done: z.coerce.number(),
  ignored: z.coerce.number(),
  lag_p50_ms: z.coerce.number().nullable(),
  lag_p95_ms: z.coerce.number().nullable(),
});

export async function setUpWebhooks(control: SimulatorControl): Promise<WebhookSetUp> {
  const port = await freePort();
  const secret = randomBytes(16).toString("hex");
  const settings = { targetUrl: `http://127.0.0.1:${port}/hubspot/webhooks`, secret };
  await control.configureWebhooks(settings);
  return {
    workerArgs: ["--webhooks-port", String(port), "--webhooks-host", "127.0.0.1"],
    workerEnv: { HUBSPOT_WEBHOOK_SECRET: secret },
    healthUrl: `http://127.0.0.1:${port}/healthz`,
    async flush() {
      await control.flushWebhooks({ timeoutMs: 60_000 });
    },
    async stop() {
      await control.configureWebhooks({ ...settings, enabled: false });
    },
    async figures(pool) {
      const s = await control.webhookStats();
      const inbox = InboxRow.parse((await pool.query(`select pending, failed, done, ignored, lag_p50_ms, lag_p95_ms from hubsync.webhook_status`)).rows[0]);
      return {
        requests: s.sent,
        failed: s.failed,
        retried: s.retried,
        dropped: s.dropped,
        events: s.eventsDelivered,
        applied: inbox.done,
        ignored: inbox.ignored,
        waiting: inbox.pending,
        failedApply: inbox.failed,
        lagP50Ms: inbox.lag_p50_ms,
        lagP95Ms: inbox.lag_p95_ms,
      };
    },
  };
}
