import { parseArgs } from "node:util";
import type { Command } from "../main.ts";
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

export const command: Command = {
  summary: "check DATABASE_URL, the install, the HubSpot token and its scopes, limits, time zone and webhooks",
  async run(argv) {
    parseArgs({ args: argv, options: {}, strict: true });
    return doctor();
  },
};
