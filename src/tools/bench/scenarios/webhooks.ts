import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { propertyColumn } from "../../shared/columns.ts";
import { percentile, waitFor } from "../../shared/wait.ts";
import { setUpWebhooks } from "../../shared/webhooks.ts";
import { startWorkerProcess } from "../../shared/worker-process.ts";
import type { TierContext } from "./context.ts";

export interface WebhookLatencyFigures {
  changes: number;
  /** Changes whose new value was not in PostgreSQL when the scenario gave up waiting. */
  lost: number;
  /** Change made in the simulator → its new value visible in PostgreSQL. */
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  maxMs: number | null;
  /** HubSpot API calls hubsync made per change (it reads the changed records back). */
  callsPerChange: number;
  /** Webhook deliveries the receiver did not accept. */
  failedDeliveries: number;
}

const TYPE = "contacts";
const PROPERTY = "firstname";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Real time through webhooks, after the write-back: the worker is restarted with its receiver on
 * (`--webhooks-port`) and an empty crontab, so nothing but the webhooks brings the changes in. The
 * changes are edits made in the simulator as HubSpot users make them, spread over time (100–200 ms
 * apart, so most are batches of their own); latency is from just before each edit to the moment its
 * value can be read in PostgreSQL, polled every 20 ms.
 */
export async function hubsyncWebhooks(ctx: TierContext, changes: number, timeoutMs: number): Promise<WebhookLatencyFigures> {
  const pool = ctx.db.pool;
  const hooks = await setUpWebhooks(ctx.sim.control);
  if (ctx.worker) {
    const code = await ctx.worker.stop();
    ctx.worker = null;
    if (code !== 0) throw new Error(`the worker exited with code ${code} before the webhook scenario (log: ${ctx.workerLog})`);
  }
  const crontab = join(dirname(ctx.workerLog), `crontab-webhooks-${ctx.tier}`);
  writeFileSync(crontab, "# webhooks only: no pulls\n");
  ctx.worker = startWorkerProcess({
    databaseUrl: ctx.db.url,
    hubspotUrl: ctx.sim.url,
    token: ctx.sim.token,
    logFile: ctx.workerLog,
    appendLog: true,
    args: hooks.workerArgs,
    env: { ...hooks.workerEnv, HUBSYNC_CRONTAB: crontab },
  });
  await waitFor("the webhook receiver", async () => ((await fetch(hooks.healthUrl).catch(() => null))?.status === 200 ? true : undefined), {
    timeoutMs: 30_000,
    intervalMs: 100,
  });

  const { table, column } = await propertyColumn(pool, TYPE, PROPERTY);
  const ids = (await pool.query<{ id: string }>(`select id from ${table} where id is not null order by id limit $1`, [changes])).rows.map((r) => r.id);
  const marker = `bench-wh-${Date.now()}`;
  const madeAt = new Map<string, number>();
  const seenAt = new Map<string, number>();
  // Every change's arrival is watched from when it is made until a minute after the last one.
  let stopAt = Infinity;
  const poller = (async () => {
    while (Date.now() < stopAt && (stopAt === Infinity || seenAt.size < madeAt.size)) {
      const waiting = [...madeAt.keys()].filter((id) => !seenAt.has(id));
      if (waiting.length > 0) {
        const { rows } = await pool.query<{ id: string; v: string | null }>(`select id, ${column} as v from ${table} where id = any($1)`, [waiting]);
        const now = Date.now();
        for (const r of rows) if (r.v === `${marker} ${r.id}`) seenAt.set(r.id, now);
      }
      await sleep(20);
    }
  })();
  await ctx.sim.resetTraffic();
  const before = await ctx.sim.control.webhookStats();
  try {
    for (const [i, id] of ids.entries()) {
      madeAt.set(id, Date.now());
      await ctx.sim.update(TYPE, id, { [PROPERTY]: `${marker} ${id}` });
      await sleep(100 + (i % 3) * 50);
    }
  } finally {
    stopAt = Date.now() + Math.min(timeoutMs, 60_000);
    await poller;
  }
  // The naive script's scenarios come next, with the worker stopped: nothing must be sent then.
  await hooks.stop();
  const latencies = [...seenAt].map(([id, at]) => at - madeAt.get(id)!);
  const traffic = await ctx.sim.traffic();
  const after = await ctx.sim.control.webhookStats();
  return {
    changes: ids.length,
    lost: ids.length - seenAt.size,
    latencyP50Ms: percentile(latencies, 50),
    latencyP95Ms: percentile(latencies, 95),
    maxMs: latencies.length ? Math.max(...latencies) : null,
    callsPerChange: ids.length ? traffic.requests / ids.length : 0,
    failedDeliveries: after.failed - before.failed,
  };
}
