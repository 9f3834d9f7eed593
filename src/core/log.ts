import { pino, type Logger } from "pino";

/**
 * The one logger of the process. The HubSpot token, the webhook secret (HUBSPOT_WEBHOOK_SECRET)
 * and database passwords must never reach a log line, whatever object they hide in, so every path
 * that could carry them is redacted here, once (test/security-secrets.test.ts greps a debug-level
 * run with faults for them).
 */
const SECRET_KEYS = [
  "token",
  "accessToken",
  "access_token",
  "secret",
  "webhookSecret",
  "clientSecret",
  "password",
  "databaseUrl",
  "connectionString",
  "HUBSPOT_ACCESS_TOKEN",
  "HUBSPOT_WEBHOOK_SECRET",
  "DATABASE_URL",
];
export const REDACTED_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  "headers.authorization",
  "headers.Authorization",
  "*.headers.authorization",
  "*.headers.Authorization",
  'headers["x-hubspot-signature"]',
  'headers["x-hubspot-signature-v3"]',
  '*.headers["x-hubspot-signature"]',
  '*.headers["x-hubspot-signature-v3"]',
  "config.accessToken",
  "config.secret",
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
