import { createPool } from "../db/pool.ts";
import type { Logger } from "../log.ts";
import { watchAlerts, type AlertWatch } from "./alerts.ts";
import { serveMetrics, type MetricsServer } from "./metrics.ts";

export interface Operations {
  /** Where Prometheus scrapes, when a metrics port was given. */
  metricsUrl: string | null;
  alerts: AlertWatch;
  close(): Promise<void>;
}

/**
 * What `hubsync worker` and `hubsync webhooks` run beside their work, on a small pool of their own
 * (a scrape or an alert post never waits for a job's connection): the alert check and, with a
 * port, GET /metrics.
 */
export async function startOperations(opts: {
  databaseUrl: string;
  component: "worker" | "webhooks";
  metricsPort?: number;
  metricsHost?: string;
  alertWebhookUrl?: string | null;
  log: Logger;
}): Promise<Operations> {
  const pool = createPool(opts.databaseUrl, { max: 2, applicationName: `hubsync ${opts.component} operations` });
  let metrics: MetricsServer | null = null;
  try {
    if (opts.metricsPort !== undefined) {
      metrics = await serveMetrics({ pool, port: opts.metricsPort, host: opts.metricsHost, component: opts.component, log: opts.log });
    }
    const alerts = await watchAlerts({ pool, log: opts.log, webhookUrl: opts.alertWebhookUrl ?? null });
    return {
      metricsUrl: metrics?.url ?? null,
      alerts,
      async close() {
        await alerts.stop();
        await metrics?.close();
        await pool.end();
      },
    };
  } catch (err) {
    await metrics?.close();
    await pool.end();
    throw err;
  }
}
