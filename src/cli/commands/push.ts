import { z } from "zod";
import { httpOptions, readEnv, requireAccessToken, requireDatabaseUrl } from "../../core/config.ts";
import { createPool } from "../../core/db/pool.ts";
import { createHubSpotApi } from "../../core/hubspot/client.ts";
import { log } from "../../core/log.ts";
import { planPush, renderDryRun } from "../../core/push/dry-run.ts";
import { runPush } from "../../core/push/run.ts";
import type { Command } from "../command.ts";
import { commandOptions } from "../options.ts";

const USAGE = `usage: hubsync push [--dry-run] [object]

Sends the changes waiting in hubsync.outbox to HubSpot now (the worker does this on its own).
  --dry-run   print the batch calls the outbox would make and the changes HubSpot would reject
              by its properties' rules (options, read-only, types); sends nothing
  object      one object type (default: every type with changes waiting)`;

const Options = z.object({ "dry-run": z.boolean().default(false) });

export const command: Command = {
  async run(argv) {
    const parsed = commandOptions("push", argv, { "dry-run": { type: "boolean" } }, Options, USAGE, { positionals: 1 });
    if ("exit" in parsed) return parsed.exit;
    const values = parsed.options;
    const only = parsed.positionals[0];
    const env = readEnv();
    const pool = createPool(requireDatabaseUrl(env), { applicationName: "hubsync push" });
    const hubspot = createHubSpotApi({ accessToken: requireAccessToken(env), basePath: env.HUBSPOT_BASE_URL, pool, log, ...httpOptions(env), learnTimeZone: true });
    try {
      if (values["dry-run"]) {
        const plan = await planPush(pool, hubspot, only);
        process.stdout.write(renderDryRun(plan));
        return 0;
      }
      const types = only
        ? [only]
        : (await pool.query<{ object_type: string }>(`select distinct object_type from hubsync.outbox where status in ('pending', 'in_flight') order by 1`)).rows.map(
            (r) => r.object_type,
          );
      let failed = false;
      for (const t of types) {
        const r = await runPush({ pool, hubspot, log }, t, { coalesceMs: 0 });
        const state = r.skipped ? `skipped (${r.skipped})` : `${r.sent} sent, ${r.rejected} rejected, ${r.retrying} waiting to retry`;
        process.stdout.write(`${t.padEnd(20)} ${state}, ${r.requests} request(s)\n`);
        if (r.rejected > 0 || r.retrying > 0) failed = true;
      }
      if (types.length === 0) process.stdout.write("nothing to push\n");
      return failed ? 1 : 0;
    } finally {
      hubspot.close();
      await pool.end();
    }
  },
};
