import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import type { Command } from "../command.ts";
import { commandOptions } from "../options.ts";
import { DEFAULT_CRONTAB } from "../../core/worker/runner.ts";
import { renderDay, runDay } from "../../tools/day/run-day.ts";

const USAGE = `usage: hubsync simulate-day [--contacts N] [--archived N] [--companies N] [--changes N] [--daily N] [--reserve R] [--out FILE]

Runs a day of the crontab on a simulated clock against a Free-tier simulator (its daily quota
counts every call) and checks the day stays within the quota minus the reserve while every kind
of change still arrives. Uses DATABASE_URL's server when set, else an embedded PostgreSQL.
  --contacts N   live contacts (default 200000)
  --archived N   archived contacts in the recycle bin (default 100000)
  --companies N  companies (default 2000)
  --changes N    changes of each kind during the day (default 240)
  --daily N      HubSpot's daily limit (default 250000, Free)
  --reserve R    HUBSYNC_DAILY_RESERVE: "10%" or a number of calls (default 10%)
  --out FILE     also write the report there (e.g. bench/day-results.md)`;

const FLAGS = {
  contacts: { type: "string" },
  archived: { type: "string" },
  companies: { type: "string" },
  changes: { type: "string" },
  daily: { type: "string" },
  reserve: { type: "string" },
  out: { type: "string" },
} as const;

const count = z.coerce.number().int().min(1);
const Flags = z.object({
  contacts: count.default(200_000),
  archived: count.default(100_000),
  companies: count.default(2_000),
  changes: count.default(240),
  daily: count.default(250_000),
  reserve: z.string().regex(/^(\d+(\.\d+)?%|\d+)$/, 'a share such as "10%" or a number of calls').default("10%"),
  out: z.string().min(1).optional(),
});

export const command: Command = {
  async run(argv) {
    const parsed = commandOptions("simulate-day", argv, FLAGS, Flags, USAGE);
    if ("exit" in parsed) return parsed.exit;
    const f = parsed.options;
    const reserve = f.reserve.endsWith("%") ? { percent: Number(f.reserve.slice(0, -1)) } : { calls: Number(f.reserve) };
    const results = await runDay(
      {
        contacts: f.contacts,
        archived: f.archived,
        companies: f.companies,
        dailyLimit: f.daily,
        reserve,
        changesPerKind: f.changes,
        webhookHours: [9, 12],
        quietMinutes: 60,
        minutes: 1440,
        timeZone: "America/New_York",
        crontabPath: process.env.HUBSYNC_CRONTAB ?? DEFAULT_CRONTAB,
        note: (m) => process.stderr.write(`${m}\n`),
      },
      process.env.DATABASE_URL,
    );
    const markdown = renderDay(results);
    if (f.out) {
      mkdirSync(dirname(resolve(f.out)), { recursive: true });
      writeFileSync(f.out, markdown);
    }
    process.stdout.write(`${markdown}\n`);
    return results.ok ? 0 : 1;
  },
};
