import { z } from "zod";
import type { Command } from "../command.ts";
import { commandOptions } from "../options.ts";
import { readEnv, requireAccessToken, requireDatabaseUrl } from "../../core/config.ts";
import { EXIT_DATABASE_LOST, startWorkerWhenDatabaseAnswers } from "../../core/worker/supervise.ts";
import { readWebhookConfig } from "../../core/webhooks/config.ts";
import { serveWebhooks } from "../../core/webhooks/serve.ts";
import { log } from "../../core/log.ts";
import { startOperations } from "../../core/operations/serve.ts";
import { checkAccessToken } from "../preflight.ts";
import { heapLimitMb } from "../heap-limit.ts";

const Options = z.object({
  concurrency: z.coerce.number().int().min(1).max(100).optional(),
  crontab: z.string().min(1).optional(),
  "webhooks-port": z.coerce.number().int().min(0).max(65_535).optional(),
  "webhooks-host": z.string().min(1).optional(),
  "metrics-port": z.coerce.number().int().min(0).max(65_535).optional(),
  "metrics-host": z.string().min(1).optional(),
});

const USAGE = `usage: hubsync worker [--concurrency N] [--crontab FILE] [--webhooks-port N [--webhooks-host H]] [--metrics-port N [--metrics-host H]]

Runs graphile-worker with hubsync's tasks until SIGTERM/SIGINT: the pull crontab, the pushes the
outbox triggers wake, association sweeps and webhook applies.
  --concurrency N     jobs run at once, pushes apart (default: HUBSYNC_WORKER_CONCURRENCY, else 5);
                      pushes have slots of their own (HUBSYNC_PUSH_CONCURRENCY, else 2)
  --crontab FILE      the crontab to run (default: HUBSYNC_CRONTAB, else the crontab file shipped with hubsync)
  --webhooks-port N   also receive HubSpot webhooks on this port, in this process (as \`hubsync webhooks\`)
  --webhooks-host H   the address the receiver listens on (default: HUBSYNC_WEBHOOK_HOST, else 0.0.0.0)
  --metrics-port N    serve Prometheus metrics on GET /metrics on this port (default: HUBSYNC_METRICS_PORT, else none)
  --metrics-host H    the address the metrics server listens on (default 0.0.0.0)
It also checks hubsync.alerts every alerts.check_seconds (hubsync.settings): each alert that opens or
closes is a NOTIFY hubsync_alerts and, with HUBSYNC_ALERT_WEBHOOK_URL, one JSON POST.
env: DATABASE_URL, HUBSPOT_ACCESS_TOKEN, HUBSPOT_BASE_URL; HUBSPOT_WEBHOOK_SECRET with --webhooks-port; HUBSYNC_ALERT_WEBHOOK_URL;
  HUBSYNC_MAX_HEAP_MB: the worker's heap limit in MB (default 256; 0 = Node's own, which grows with the machine)`;

export const command: Command = {
  async run(argv) {
    const parsed = commandOptions(
      "worker",
      argv,
      {
        concurrency: { type: "string" },
        crontab: { type: "string" },
        // the webhook receiver in this process (the same server as `hubsync webhooks`)
        "webhooks-port": { type: "string" },
        "webhooks-host": { type: "string" },
        "metrics-port": { type: "string" },
        "metrics-host": { type: "string" },
      },
      Options,
      USAGE,
      { fallbacks: { concurrency: process.env.HUBSYNC_WORKER_CONCURRENCY, "metrics-port": process.env.HUBSYNC_METRICS_PORT || undefined } },
    );
    if ("exit" in parsed) return parsed.exit;
    const options = parsed.options;
    const env = readEnv();
    // Every pull and push needs the token: without it, say so now rather than in each failing job.
    requireAccessToken(env);
    // Checked before the worker starts: a missing webhook secret stops everything with one line.
    const webhooks =
      options["webhooks-port"] !== undefined ? readWebhookConfig(process.env, { port: options["webhooks-port"], host: options["webhooks-host"] }) : null;
    // a token HubSpot refuses stops the command here, in one line, instead of pausing every job
    await checkAccessToken({ ...env, HUBSPOT_ACCESS_TOKEN: requireAccessToken(env) }, requireDatabaseUrl(env), log);
    // With HUBSYNC_DATABASE_WAIT_MS, waits for a database that is still restarting (src/core/worker/supervise.ts).
    const worker = await startWorkerWhenDatabaseAnswers({
      databaseUrl: requireDatabaseUrl(env),
      concurrency: options.concurrency,
      crontabFile: options.crontab,
      handleSignals: true,
    });
    // once started, so a command that stops on its configuration prints that one line alone
    log.info({ heapLimitMb: heapLimitMb() }, "heap limit (HUBSYNC_MAX_HEAP_MB)");
    const receiver = webhooks
      ? await serveWebhooks({ databaseUrl: requireDatabaseUrl(env), config: webhooks }).catch(async (err: unknown) => {
          await worker.stop();
          throw err;
        })
      : null;
    const operations = await startOperations({
      databaseUrl: requireDatabaseUrl(env),
      component: "worker",
      metricsPort: options["metrics-port"],
      metricsHost: options["metrics-host"],
      alertWebhookUrl: env.HUBSYNC_ALERT_WEBHOOK_URL,
      log,
    }).catch(async (err: unknown) => {
      await receiver?.close();
      await worker.stop();
      throw err;
    });
    const lost = await Promise.race([worker.done.then(() => null), worker.failed]);
    if (lost) {
      // graphile cannot record what its jobs did and would hang on them: exit for the supervisor
      // to start a new worker, which releases and re-runs those jobs.
      log.error({ err: lost.message, exitCode: EXIT_DATABASE_LOST }, "the worker lost its database connection mid-job; exiting so it can be started again");
      await Promise.race([new Promise<void>((resolve) => log.flush(() => resolve())), new Promise((r) => setTimeout(r, 500))]);
      process.exit(EXIT_DATABASE_LOST);
    }
    await receiver?.close();
    await operations.close();
    if (worker.forced) {
      // Jobs failed by the forced stop may still hold timers or sockets; they must not keep the
      // process alive. Flush the log first: pino writes asynchronously.
      await new Promise<void>((resolve) => log.flush(() => resolve()));
      process.exit(0);
    }
    return 0;
  },
};
