import { z } from "zod";
import type { Command } from "../command.ts";
import { commandOptions } from "../options.ts";
import { doctorPassed, formatDoctor, runDoctor } from "../../core/doctor.ts";
import { log } from "../../core/log.ts";

/** `hubsync doctor` (also `hubsync status --check`): the table of checks; exit 1 when sync cannot work. */
export async function doctor(): Promise<number> {
  // the table says what failed; the client's own log lines only at debug level
  const quiet = log.child({ component: "doctor" }, { level: log.isLevelEnabled("debug") ? log.level : "silent" });
  const rows = await runDoctor(process.env, quiet);
  process.stdout.write(formatDoctor(rows));
  return doctorPassed(rows) ? 0 : 1;
}

const USAGE = `usage: hubsync doctor

Checks what sync needs, one row each, and says what to do about any that fails: DATABASE_URL and
the install, the HubSpot token and the scopes each enabled type and feature needs, the tier's rate
limits, the account's time zone (the daily quota's reset) and whether webhooks can work. Exits 1
when sync cannot work. Run it first. \`hubsync status --check\` does the same.`;

export const command: Command = {
  async run(argv) {
    const parsed = commandOptions("doctor", argv, {}, z.object({}), USAGE);
    if ("exit" in parsed) return parsed.exit;
    return doctor();
  },
};
