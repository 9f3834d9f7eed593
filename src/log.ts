import { pino, type Logger } from "pino";

/**
 * The one logger of the process. The HubSpot token must never reach a log line, whatever
 * object it hides in, so every path that could carry it is redacted here, once.
 */
export const REDACTED_PATHS = [
  "token",
  "accessToken",
  "*.token",
  "*.accessToken",
  "headers.authorization",
  "headers.Authorization",
  "*.headers.authorization",
  "*.headers.Authorization",
  "config.accessToken",
];

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      name: options.name ?? "hubsync",
      level: options.level ?? process.env.HUBSYNC_LOG_LEVEL ?? "info",
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}

export const log: Logger = createLogger();
export type { Logger };
