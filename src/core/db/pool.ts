import pg from "pg";
import { log } from "../log.ts";

export interface PoolOptions {
  /** Maximum connections (pg's default is 10). */
  max?: number;
  /** Shown in pg_stat_activity, so a DBA can tell hubsync's connections apart. */
  applicationName?: string;
}

/**
 * The one way hubsync opens a connection pool. An idle client that loses its server (restart,
 * admin kill) emits 'error' on the pool and on the client; without listeners Node would crash
 * the process, and graphile-worker warns about pools missing them (https://err.red/wpeh).
 * Errors during queries still reject the query's promise, so logging here loses nothing.
 */
export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? "hubsync",
  });
  pool.on("error", (err) => log.warn({ err: err.message }, "idle PostgreSQL connection failed"));
  pool.on("connect", (client) => {
    client.on("error", (err) => log.warn({ err: err.message }, "PostgreSQL connection failed"));
  });
  return pool;
}
