import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type pg from "pg";
import { z } from "zod";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Logger } from "../log.ts";

/**
 * Prometheus metrics. Two kinds of figures:
 * - shared ones read from the database at each scrape (totals kept by triggers in
 *   hubsync.metric_totals, the rate budget, the outbox, pull times, alerts): every worker shares
 *   them, so one scrape of any process tells the whole truth;
 * - this process's own (it is up, HubSpot's answers it got, push latency and webhook lag it
 *   observed): Prometheus sums those over the processes it scrapes.
 */

/** This process's own metrics; the code that observes them imports these. */
const processRegistry = new Registry();
// Node's own figures (CPU, memory, event loop) only in a process that serves them: every command
// loads this module through the HubSpot client.
let defaultMetrics = false;

export const hubspotResponses = new Counter({
  name: "hubsync_hubspot_responses_total",
  help: "HubSpot answers this process got, by rate-limit bucket and HTTP status ('error': no answer: timeout, connection lost). Process-local",
  labelNames: ["bucket", "status"] as const,
  registers: [processRegistry],
});

export const pushLatency = new Histogram({
  name: "hubsync_push_latency_seconds",
  help: "From the commit of a local change to the HubSpot request that got it through, for changes this process sent. Process-local",
  buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600],
  registers: [processRegistry],
});

export const webhookLag = new Histogram({
  name: "hubsync_webhook_lag_seconds",
  help: "From HubSpot's change (the event's occurredAt) to its apply in PostgreSQL, for webhook events this process applied. Process-local",
  buckets: [0.5, 1, 2, 5, 10, 30, 60, 300, 900],
  registers: [processRegistry],
});

const up = new Gauge({
  name: "hubsync_up",
  help: "1 while this hubsync process runs, labelled by what it is (worker, webhooks)",
  labelNames: ["component"] as const,
  registers: [processRegistry],
});

const Totals = z.object({ metric: z.string(), object_type: z.string(), kind: z.string(), result: z.string(), value: z.coerce.number() });
const Budget = z.object({
  bucket: z.string(),
  capacity: z.coerce.number(),
  used: z.coerce.number(),
  requests: z.coerce.number(),
  rate_limited: z.coerce.number(),
  daily_limit: z.coerce.number().nullable(),
  daily_remaining: z.coerce.number().nullable(),
  paused_reason: z.string().nullable(),
});
const Lag = z.object({ object_type: z.string(), lag_s: z.coerce.number().nullable() });
const Outbox = z.object({ object_type: z.string(), pending: z.coerce.number(), rejected: z.coerce.number(), oldest_s: z.coerce.number().nullable() });
const Shared = z.object({ workers: z.coerce.number(), alerts: z.record(z.string(), z.coerce.number()).nullable() });

type Snapshot = {
  totals: z.infer<typeof Totals>[];
  budget: z.infer<typeof Budget>[];
  lag: z.infer<typeof Lag>[];
  outbox: z.infer<typeof Outbox>[];
  shared: z.infer<typeof Shared>;
};

export const ALERT_KINDS = ["rejected_changes", "type_error", "pull_lag", "hubspot_paused", "quota_projected", "webhook_failing", "worker_dead"] as const;
const PAUSE_REASONS = ["daily", "auth", "migration"] as const;

/** What one scrape reads from the database, in one go. */
async function readSnapshot(pool: pg.Pool): Promise<Snapshot> {
  const [totals, budget, lag, outbox, shared] = await Promise.all([
    pool.query(`select metric, object_type, kind, result, value from hubsync.metric_totals`),
    pool.query(
      `select bucket, capacity,
              (select count(*) from unnest(slots) s where s > clock_timestamp() - make_interval(secs => window_ms / 1000.0)) as used,
              requests, rate_limited, daily_limit, daily_remaining,
              case when blocked_reason in ('daily', 'auth', 'migration') and blocked_until > now() then blocked_reason end as paused_reason
         from hubsync.rate_budget`,
    ),
    // the last successful pull of each enabled type, the last sweep of each association table
    pool.query(
      `select object_type, extract(epoch from now() - last_pull_at) as lag_s from hubsync.objects where enabled
       union all
       select table_name, extract(epoch from now() - last_sweep_at) from hubsync.association_pairs`,
    ),
    pool.query(
      `select object_type,
              count(*) filter (where status in ('pending', 'in_flight')) as pending,
              count(*) filter (where status = 'rejected') as rejected,
              extract(epoch from now() - min(created_at) filter (where status in ('pending', 'in_flight'))) as oldest_s
         from hubsync.outbox where status in ('pending', 'in_flight', 'rejected') group by object_type`,
    ),
    pool.query(`select hubsync._live_workers() as workers, (select jsonb_object_agg(kind, n) from (select kind, count(*) as n from hubsync.alerts group by kind) a) as alerts`),
  ]);
  return {
    totals: totals.rows.map((r) => Totals.parse(r)),
    budget: budget.rows.map((r) => Budget.parse(r)),
    lag: lag.rows.map((r) => Lag.parse(r)),
    outbox: outbox.rows.map((r) => Outbox.parse(r)),
    shared: Shared.parse(shared.rows[0]),
  };
}

/**
 * The shared metrics, read from the database when Prometheus scrapes. refresh() reads a snapshot
 * (one round of queries) at the start of each scrape, and every metric's collect() takes its
 * figures from it, so one scrape's figures are of one moment.
 */
function databaseRegistry(pool: pg.Pool, log: Logger): { registry: Registry; refresh(): void } {
  const registry = new Registry();
  let current: Promise<Snapshot | null> = Promise.resolve(null);
  const refresh = () => {
    current = readSnapshot(pool).catch((err: unknown) => {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, "metrics: could not read the database");
      return null;
    });
  };
  const snapshot = () => current;

  // A counter whose value is a database total: reset, then set from the snapshot at each scrape.
  const totalCounter = (name: string, help: string, metric: string, labels: readonly [string, string]) =>
    new Counter({
      name,
      help,
      labelNames: ["object_type", ...labels],
      registers: [registry],
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const t of s?.totals ?? []) if (t.metric === metric) this.inc({ object_type: t.object_type, [labels[0]]: t.kind, [labels[1]]: t.result }, t.value);
      },
    });
  totalCounter("hubsync_records_pulled_total", "Records written by pulls, by object type, run kind and the run's result (ok, error). Database-wide", "records_pulled", ["kind", "result"]);
  totalCounter("hubsync_records_pushed_total", "Local changes that reached an end, by object type, operation and result (sent, rejected, superseded). Database-wide", "records_pushed", ["op", "result"]);
  totalCounter("hubsync_runs_total", "Runs that ended (hubsync.runs), by object type, kind and result (ok, error: a failed run). Database-wide", "runs", ["kind", "result"]);
  totalCounter("hubsync_conflicts_total", "Conflicts between a pulled change and a pending local one, by object type, policy and winner. Database-wide", "conflicts", ["policy", "winner"]);

  // per rate-limit bucket: counters are totals the budget keeps, gauges its state now
  const perBucket = async (m: Counter<"bucket"> | Gauge<"bucket">, value: (b: Snapshot["budget"][number]) => number) => {
    const s = await snapshot();
    m.reset();
    for (const b of s?.budget ?? []) m.inc({ bucket: b.bucket }, value(b));
  };
  const bucketCounter = (name: string, help: string, value: (b: Snapshot["budget"][number]) => number) =>
    new Counter({ name, help, labelNames: ["bucket"] as const, registers: [registry], collect() { return perBucket(this, value); } });
  const bucketGauge = (name: string, help: string, value: (b: Snapshot["budget"][number]) => number) =>
    new Gauge({ name, help, labelNames: ["bucket"] as const, registers: [registry], collect() { return perBucket(this, value); } });
  bucketCounter("hubsync_hubspot_requests_total", "HubSpot requests made, every process together, by rate-limit bucket. Database-wide", (b) => b.requests);
  bucketCounter("hubsync_hubspot_rate_limited_total", "HubSpot 429 answers, every process together, by rate-limit bucket. Database-wide", (b) => b.rate_limited);
  bucketGauge("hubsync_rate_budget_capacity", "Requests the rate budget allows per window (HubSpot's limit minus headroom), by bucket", (b) => b.capacity);
  bucketGauge("hubsync_rate_budget_used", "Requests reserved inside the current window, every process together, by bucket", (b) => b.used);

  // one unlabelled figure of the snapshot; absent when the scrape has none
  const gaugeOf = (name: string, help: string, value: (s: Snapshot | null) => number | null | undefined) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const v = value(await snapshot());
        this.reset();
        if (v != null) this.set(v);
      },
    });
  const general = (s: Snapshot | null) => s?.budget.find((b) => b.bucket === "general");
  gaugeOf("hubsync_daily_quota_limit", "HubSpot's daily API quota, as its last answer reported it", (s) => general(s)?.daily_limit);
  gaugeOf("hubsync_daily_quota_remaining", "HubSpot API calls left today, as its last answer reported it", (s) => general(s)?.daily_remaining);
  new Gauge({
    name: "hubsync_hubspot_paused",
    help: "1 while every HubSpot call is paused for this reason (daily: quota used up, auth: token refused, migration: account moving), else 0",
    labelNames: ["reason"],
    registers: [registry],
    async collect() {
      const g = general(await snapshot());
      for (const reason of PAUSE_REASONS) this.set({ reason }, g?.paused_reason === reason ? 1 : 0);
    },
  });
  new Gauge({
    name: "hubsync_pull_lag_seconds",
    help: "Seconds since the last successful pull of each enabled object type (association tables: last sweep); absent before the first",
    labelNames: ["object_type"],
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      for (const l of s?.lag ?? []) if (l.lag_s !== null) this.set({ object_type: l.object_type }, l.lag_s);
    },
  });
  const outboxGauge = (name: string, help: string, value: (o: Snapshot["outbox"][number]) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ["object_type"],
      registers: [registry],
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const o of s?.outbox ?? []) {
          const v = value(o);
          if (v !== null) this.set({ object_type: o.object_type }, v);
        }
      },
    });
  outboxGauge("hubsync_outbox_pending", "Local changes waiting to be sent (pending or in flight), by object type", (o) => o.pending);
  outboxGauge("hubsync_outbox_rejected", "Local changes HubSpot rejected (or refused locally) waiting for a person, by object type", (o) => o.rejected);
  outboxGauge("hubsync_outbox_oldest_pending_seconds", "Age of the oldest local change still waiting to be sent, by object type", (o) => o.oldest_s);
  gaugeOf("hubsync_workers_alive", "hubsync worker processes running on this database (holding their liveness lock)", (s) => s?.shared.workers);
  new Gauge({
    name: "hubsync_alerts_open",
    help: "Rows of hubsync.alerts by kind (what needs a person now)",
    labelNames: ["kind"],
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      if (s) for (const kind of ALERT_KINDS) this.set({ kind }, s.shared.alerts?.[kind] ?? 0);
    },
  });
  gaugeOf("hubsync_metrics_database_up", "1 when this scrape could read the database (every database-wide figure above comes from it), else 0", (s) => (s ? 1 : 0));
  return { registry, refresh };
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** GET /metrics in Prometheus' text format, on `port` (0: any free port). */
export async function serveMetrics(opts: { pool: pg.Pool; port: number; host?: string; component: string; log: Logger }): Promise<MetricsServer> {
  const log = opts.log.child({ component: "metrics" });
  if (!defaultMetrics) collectDefaultMetrics({ register: processRegistry });
  defaultMetrics = true;
  up.set({ component: opts.component }, 1);
  const database = databaseRegistry(opts.pool, log);
  const registry = Registry.merge([processRegistry, database.registry]);
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("GET /metrics\n");
      return;
    }
    database.refresh();
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (err: unknown) => {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, "metrics: scrape failed");
        res.writeHead(500, { "content-type": "text/plain" }).end("scrape failed\n");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "0.0.0.0", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}/metrics`;
  log.info({ url }, "serving Prometheus metrics");
  return {
    url,
    async close() {
      up.remove({ component: opts.component });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
