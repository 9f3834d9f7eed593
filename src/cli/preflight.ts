import { httpOptions, type Env } from "../core/config.ts";
import { createPool } from "../core/db/pool.ts";
import { createHubSpotApi } from "../core/hubspot/client.ts";
import { AuthPausedError } from "../core/hubspot/errors.ts";
import type { Logger } from "../core/log.ts";

/**
 * Before a long-running command starts: does HubSpot take the token at all? One request (the
 * contacts property list, which every private app with CRM access may read). A 401 stops the
 * command with the sentence hubsync.status also shows (the pause is recorded through the
 * database, as the worker would); anything else (a 403 for a scope, HubSpot slow or down, the
 * daily quota) is left to the worker, which waits those out.
 */
export async function checkAccessToken(env: Env & { HUBSPOT_ACCESS_TOKEN: string }, databaseUrl: string, log: Logger): Promise<void> {
  const pool = createPool(databaseUrl, { max: 1, applicationName: "hubsync token check" });
  // the command's one line says it; the client's own error line only at debug level
  const quiet = log.child({ component: "token check" }, { level: log.isLevelEnabled("debug") ? log.level : "silent" });
  const hubspot = createHubSpotApi({ accessToken: env.HUBSPOT_ACCESS_TOKEN, basePath: env.HUBSPOT_BASE_URL, pool, log: quiet, ...httpOptions(env), maxAttempts: 1, timeoutMs: 15_000 });
  try {
    await hubspot.properties("contacts");
  } catch (err) {
    if (err instanceof AuthPausedError) throw new Error(err.message);
    quiet.debug({ err: err instanceof Error ? err.message : String(err) }, "token check inconclusive; carrying on");
  } finally {
    hubspot.close();
    await pool.end();
  }
}
