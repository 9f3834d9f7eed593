import { log } from "../core/log.ts";
import { describeError } from "./errors.ts";

/** Each command lives in its own module under commands/ and is loaded only when asked for. */
export interface Command {
  summary: string;
  run(argv: string[]): Promise<number | void>;
}

const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  doctor: () => import("./commands/doctor.ts"),
  install: () => import("./commands/install.ts"),
  worker: () => import("./commands/worker.ts"),
  webhooks: () => import("./commands/webhooks.ts"),
  sync: () => import("./commands/sync.ts"),
  status: () => import("./commands/status.ts"),
  push: () => import("./commands/push.ts"),
  simulator: () => import("./commands/simulator.ts"),
  demo: () => import("./commands/demo.ts"),
  bench: () => import("./commands/bench.ts"),
  soak: () => import("./commands/soak.ts"),
};

const USAGE = `usage: hubsync <command> [options]

  doctor                        check the database, the install, the HubSpot token, scopes, limits and webhooks
  install                       install or upgrade hubsync's SQL schema in DATABASE_URL
  worker [--webhooks-port N]    run the worker (pull crontab, push tasks) until SIGTERM; with the webhook receiver
  webhooks [--port N] [--host H] receive HubSpot webhooks (HUBSPOT_WEBHOOK_SECRET) for the worker to apply
  sync [--once] [object...]     run pull cycles now; --once exits when caught up
  status [--check]              what hubsync.status says, as a table; --check runs the doctor's checks
  push [--dry-run] [object]     send the outbox now, or print the batch calls it would make
  simulator [--port N] [--seed N] [--tier free|starter|pro|enterprise] [--latency MS] [--index-lag MS]
                                run the HubSpot simulator (--help for all options)
  demo                          the whole job in a minute, on an embedded PostgreSQL
  bench [--quick]               benchmarks against the simulator at real rate limits
  soak [--minutes 60] [--tier free|pro] [--faults RATE] [--size N] [--rate N] [--webhooks] [--kill-every S]
                                two-way changes under faults, then a record-by-record comparison

environment: DATABASE_URL, HUBSPOT_ACCESS_TOKEN, HUBSPOT_BASE_URL, HUBSPOT_WEBHOOK_SECRET`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(USAGE + "\n");
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`hubsync: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    const { command } = await load();
    return (await command.run(rest)) ?? 0;
  } catch (err) {
    // one line naming what to fix; the stack only at HUBSYNC_LOG_LEVEL=debug
    log.debug({ err }, "command failed");
    await new Promise<void>((resolve) => log.flush(() => resolve()));
    process.stderr.write(`${describeError(err)}\n`);
    return 1;
  }
}
