import type pg from "pg";
import type { Logger } from "pino";
import type { HubSpotApi } from "../hubspot/client.ts";

/** What discovery and the pull streams need; the worker context (src/worker/context.ts) has this shape. */
export interface SyncDeps {
  pool: pg.Pool;
  hubspot: HubSpotApi;
  log: Logger;
}

/** Runs fn in a transaction whose writes to hubspot.* are marked as the sync's own (echo suppression, CONTRACTS.md). */
export async function inApplyingTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    await client.query("select set_config('hubsync.applying', 'on', true)");
    const result = await fn(client);
    await client.query("commit");
    return result;
  } catch (err) {
    await client.query("rollback").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
