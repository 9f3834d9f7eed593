import { randomUUID } from "node:crypto";
import { z } from "zod";
import { httpOptions, readEnv, requireAccessToken, requireDatabaseUrl } from "../../core/config.ts";
import { createPool } from "../../core/db/pool.ts";
import { createHubSpotApi } from "../../core/hubspot/client.ts";
import { log } from "../../core/log.ts";
import { checkAccessToken } from "../preflight.ts";
import { sweepAssociations } from "../../core/associations/sweep.ts";
import { cycleAll, type ObjectCycle } from "../../core/pull/cycle.ts";
import { livenessLock } from "../../core/worker/liveness.ts";
import type { Command } from "../command.ts";
import { commandOptions } from "../options.ts";

const USAGE = `usage: hubsync sync [--once] [--interval SECONDS] [object...]

Runs discovery, backfill, incremental pulls and the association sweep in this process (no worker needed).
  --once         one cycle over the objects, then exit when each is caught up
  --interval S   seconds between cycles when not --once (default 60)
  object...      object types to sync (default: every enabled one)`;

const Options = z.object({
  once: z.boolean().default(false),
  interval: z.coerce.number().positive("must be a positive number of seconds").default(60),
});

function describe(c: ObjectCycle): string {
  const runs = c.runs.map((r) => `${r.kind} ${r.records} records/${r.requests} requests${r.rateLimited ? `/${r.rateLimited}×429` : ""} ${r.ms} ms`).join(", ");
  return `${c.objectType.padEnd(20)} ${c.error ? `ERROR ${c.error}` : `${c.phase}${runs ? ` — ${runs}` : ""}`}`;
}

export const command: Command = {
  async run(argv) {
    const parsed = commandOptions("sync", argv, { once: { type: "boolean" }, interval: { type: "string" } }, Options, USAGE, { positionals: Infinity });
    if ("exit" in parsed) return parsed.exit;
    const values = parsed.options;
    const { positionals } = parsed;
    const interval = values.interval;
    const env = readEnv();
    await checkAccessToken({ ...env, HUBSPOT_ACCESS_TOKEN: requireAccessToken(env) }, requireDatabaseUrl(env), log);
    const pool = createPool(requireDatabaseUrl(env), { applicationName: "hubsync sync" });
    const hubspot = createHubSpotApi({ accessToken: requireAccessToken(env), basePath: env.HUBSPOT_BASE_URL, pool, log, ...httpOptions(env), learnTimeZone: true });
    // The database answers first: a wrong DATABASE_URL is then one clear line, not also the lock's
    // reconnect warnings. The lock is held as a worker's is, so a worker's dead-worker check closes
    // the runs of a killed `hubsync sync` as abandoned.
    try {
      await pool.query("select 1");
    } catch (err) {
      await pool.end().catch(() => {});
      hubspot.close();
      throw err;
    }
    const workerId = `sync-${randomUUID()}`;
    const liveness = livenessLock(requireDatabaseUrl(env), log);
    liveness.hold(workerId);
    let stopping = false;
    let wake: (() => void) | null = null;
    const stop = () => {
      stopping = true;
      wake?.();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    let failed = false;
    try {
      do {
        const deps = { pool, hubspot, log, workerId };
        const results = await cycleAll(deps, positionals.length ? positionals : null);
        if (results.length === 0) process.stdout.write("nothing enabled: select hubsync.enable_sync('contacts');\n");
        for (const r of results) process.stdout.write(describe(r) + "\n");
        failed = results.some((r) => r.error);
        // without a worker nothing else creates or sweeps the association tables
        const pairs = await sweepAssociations(deps).catch((err: unknown) => {
          failed = true;
          process.stdout.write(`associations         ERROR ${err instanceof Error ? err.message : String(err)}\n`);
          return [];
        });
        for (const o of pairs) {
          if (o.error) failed = true;
          const run = o.error
            ? `ERROR ${o.error}`
            : o.refused
              ? `refused ${o.refused}`
              : `${o.run?.records ?? 0} changes/${o.run?.requests ?? 0} requests ${o.run?.ms ?? 0} ms`;
          process.stdout.write(`${o.table.padEnd(32)} ${run}\n`);
        }
        if (values.once || stopping) break;
        // Ctrl-C wakes the wait; the timer goes with it, or it would keep the stopped process
        // alive until the interval ran out.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, interval * 1000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      } while (!stopping);
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      hubspot.close();
      await liveness.close();
      await pool.end();
    }
    return failed ? 1 : 0;
  },
};
