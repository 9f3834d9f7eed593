import { z } from "zod";
import { httpOptions, readEnv, requireAccessToken, requireDatabaseUrl } from "../../core/config.ts";
import { createPool } from "../../core/db/pool.ts";
import { createHubSpotApi } from "../../core/hubspot/client.ts";
import { log } from "../../core/log.ts";
import { planPublication, renderPlan } from "../../core/publish/plan.ts";
import { runPublication } from "../../core/publish/task.ts";
import { runPush } from "../../core/push/run.ts";
import type { Command } from "../command.ts";
import { commandOptions } from "../options.ts";

const USAGE = `usage: hubsync publish [--dry-run] NAME

Runs a publication (hubsync.publish) now: queues its source rows that changed since the last run
and sends them to HubSpot (the worker does this on its own after each commit, or on the schedule).
  --dry-run   print what a run would send (creates, updates, archives) and the values HubSpot would
              refuse by its property rules (unknown or read-only property, invalid option, number,
              boolean or date); sends nothing (reads the database only: hubsync.plan(NAME))
  NAME        the publication's name (select name from hubsync.publications)`;

const Options = z.object({ "dry-run": z.boolean().default(false) });

export const command: Command = {
  async run(argv) {
    const parsed = commandOptions("publish", argv, { "dry-run": { type: "boolean" } }, Options, USAGE, { positionals: 1 });
    if ("exit" in parsed) return parsed.exit;
    const name = parsed.positionals[0];
    if (!name) {
      process.stderr.write(`hubsync publish: the publication's name is required\n${USAGE}\n`);
      return 2;
    }
    const env = readEnv();
    const pool = createPool(requireDatabaseUrl(env), { applicationName: "hubsync publish" });
    try {
      if (parsed.options["dry-run"]) {
        process.stdout.write(renderPlan(await planPublication(pool, name)));
        return 0;
      }
      const hubspot = createHubSpotApi({ accessToken: requireAccessToken(env), basePath: env.HUBSPOT_BASE_URL, pool, log, ...httpOptions(env), learnTimeZone: true });
      try {
        const ran = await runPublication({ pool, hubspot, log }, name);
        if (!ran) {
          process.stderr.write(`hubsync publish: no publication named ${JSON.stringify(name)}\n`);
          return 1;
        }
        const type = (await pool.query<{ object_type: string }>(`select object_type from hubsync.publication_config where name = $1`, [name])).rows[0]!.object_type;
        const r = await runPush({ pool, hubspot, log }, type, { coalesceMs: 0 });
        process.stdout.write(
          `${name}: ${ran.rows} row(s) read, ${ran.queued} queued, ${ran.leaving} leaving, ${ran.unchanged} unchanged; ` +
            `${type}: ${r.sent} sent, ${r.rejected} rejected, ${r.retrying} waiting to retry, ${r.requests} request(s)\n`,
        );
        return r.rejected > 0 || r.retrying > 0 ? 1 : 0;
      } finally {
        hubspot.close();
      }
    } finally {
      await pool.end();
    }
  },
};
