import { Logger as GraphileLogger } from "graphile-worker";
import { log as rootLog, type Logger } from "../log.ts";

// graphile's levels are error|warning|info|debug; pino says "warn".
const PINO_LEVEL = { error: "error", warning: "warn", info: "info", debug: "debug" } as const;

/**
 * graphile-worker's Logger writing through hubsync's pino logger, so worker and job lines share
 * the process's format and redaction. meta.job is the whole job row including its payload; only
 * its id and task are kept, so payloads never end up in logs wholesale.
 */
export function graphileLogger(log: Logger = rootLog): GraphileLogger {
  return new GraphileLogger((scope) => {
    const child = log.child({ component: "graphile-worker", ...scope });
    return (level, message, meta) => {
      const { job: _job, ...rest } = (meta ?? {}) as Record<string, unknown>;
      const method = PINO_LEVEL[level as keyof typeof PINO_LEVEL] ?? "info";
      child[method](rest, message);
    };
  });
}
