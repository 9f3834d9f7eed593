import { log } from "../core/log.ts";
import type { CommandEntry } from "./command.ts";
import { describeError } from "./errors.ts";
import { VERSION } from "../core/package.ts";
import { applyHeapLimit } from "./heap-limit.ts";

/** Every command, in the order `hubsync --help` lists them; the top-level usage is built from these summaries. */
export const COMMANDS: Record<string, CommandEntry> = {
  doctor: { summary: "check the database, the install, the HubSpot token, scopes, limits and webhooks", load: () => import("./commands/doctor.ts") },
  install: { summary: "install or upgrade hubsync's SQL schema in DATABASE_URL", load: () => import("./commands/install.ts") },
  worker: { summary: "run the worker (pull crontab, push tasks, optionally the webhook receiver) until SIGTERM", load: () => import("./commands/worker.ts") },
  webhooks: { summary: "receive HubSpot webhooks into the inbox the worker applies", load: () => import("./commands/webhooks.ts") },
  sync: { summary: "run pull cycles now (--once: exit when caught up)", load: () => import("./commands/sync.ts") },
  status: { summary: "what hubsync.status says, as a table", load: () => import("./commands/status.ts") },
  refresh: { summary: "read records from HubSpot now, ahead of everything else, and wait until they are written", load: () => import("./commands/refresh.ts") },
  push: { summary: "send queued local changes to HubSpot, or show what would be sent", load: () => import("./commands/push.ts") },
  publish: { summary: "run a publication (hubsync.publish) now, or show what it would send (--dry-run)", load: () => import("./commands/publish.ts") },
  simulator: { summary: "run the HubSpot simulator", load: () => import("./commands/simulator.ts") },
  demo: { summary: "the whole job in a minute, on an embedded PostgreSQL", load: () => import("./commands/demo.ts") },
  bench: { summary: "benchmarks against the simulator at real rate limits", load: () => import("./commands/bench.ts") },
  soak: { summary: "two-way changes with faults for a while, then a record-by-record comparison", load: () => import("./commands/soak.ts") },
  "simulate-day": { summary: "a day of the crontab on a simulated clock: the daily quota minus the reserve, and every change arriving", load: () => import("./commands/simulate-day.ts") },
};

const NAME_WIDTH = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;

const USAGE = [
  "usage: hubsync <command> [options]",
  "",
  ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(NAME_WIDTH)}${c.summary}`),
  "",
  "hubsync <command> --help prints a command's options; hubsync --version prints the version.",
  "environment: DATABASE_URL, HUBSPOT_ACCESS_TOKEN, HUBSPOT_BASE_URL, HUBSPOT_WEBHOOK_SECRET",
].join("\n");

/**
 * `processEntry`: main runs as the process's own entry point (src/cli/hubsync.ts), so the worker may
 * restart the process in place with its heap limit. Tests that run main inside their own process
 * leave it false: restarting theirs would replace the test runner.
 */
export async function main(argv: string[], opts: { processEntry?: boolean } = {}): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(USAGE + "\n");
    return name ? 0 : 2;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write(`hubsync ${VERSION}\n`);
    return 0;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    process.stderr.write(`hubsync: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    // The worker restarts itself with its heap limit (HUBSYNC_MAX_HEAP_MB) before it loads its
    // modules, so starting costs one load of them, not two; it returns once the limit is in place.
    if (opts.processEntry && name === "worker" && !rest.some((a) => a === "--help" || a === "-h")) applyHeapLimit();
    const { command } = await entry.load();
    return (await command.run(rest)) ?? 0;
  } catch (err) {
    // one line naming what to fix; the stack only at HUBSYNC_LOG_LEVEL=debug
    log.debug({ err }, "command failed");
    await new Promise<void>((resolve) => log.flush(() => resolve()));
    process.stderr.write(`${describeError(err)}\n`);
    return 1;
  }
}
