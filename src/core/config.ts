import { z } from "zod";

/** Environment of a hubsync process, checked once at start so a typo fails loudly, not later. */
const EnvSchema = z.object({
  DATABASE_URL: z.string().url({ message: "DATABASE_URL must be a postgres:// URL" }).optional(),
  HUBSPOT_ACCESS_TOKEN: z.string().min(1).optional(),
  HUBSPOT_BASE_URL: z.string().url({ message: "HUBSPOT_BASE_URL must be an http(s) URL" }).default("https://api.hubapi.com"),
  HUBSPOT_WEBHOOK_SECRET: z.string().optional(),
  /** A HubSpot request silent this long is abandoned and retried (default 30 s). */
  HUBSYNC_HTTP_TIMEOUT_MS: z.coerce.number().int().positive().optional(),
  /** Attempts per HubSpot request on 5xx, timeouts and dropped connections (default 6). */
  HUBSYNC_HTTP_MAX_ATTEMPTS: z.coerce.number().int().positive().optional(),
  /**
   * Characters of property names hubsync puts in one GET URL before it reads records by id and
   * batch read instead. HubSpot answers 414 only past about 16,300 characters of URL (connectors
   * chunk to that figure); the default keeps a margin for the rest of the URL. A 414 lowers it
   * for the portal (remembered in hubsync.cursors).
   */
  HUBSYNC_URL_BUDGET: z.coerce.number().int().positive().default(15_000),
});

export type Env = z.infer<typeof EnvSchema>;

export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`hubsync: bad environment: ${problems}`);
  }
  return parsed.data;
}

export function requireDatabaseUrl(env: Env): string {
  if (!env.DATABASE_URL) throw new Error("hubsync: DATABASE_URL is not set (e.g. postgres://user@localhost/db)");
  return env.DATABASE_URL;
}

export function requireAccessToken(env: Env): string {
  if (!env.HUBSPOT_ACCESS_TOKEN) {
    throw new Error("hubsync: HUBSPOT_ACCESS_TOKEN is not set (a HubSpot private-app token, or any token for the simulator)");
  }
  return env.HUBSPOT_ACCESS_TOKEN;
}

/** The HubSpot client's timeout and retry settings from the environment (only those set). */
export function httpOptions(env: Env): { timeoutMs?: number; maxAttempts?: number } {
  return {
    ...(env.HUBSYNC_HTTP_TIMEOUT_MS ? { timeoutMs: env.HUBSYNC_HTTP_TIMEOUT_MS } : {}),
    ...(env.HUBSYNC_HTTP_MAX_ATTEMPTS ? { maxAttempts: env.HUBSYNC_HTTP_MAX_ATTEMPTS } : {}),
  };
}
