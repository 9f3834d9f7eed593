import type pg from "pg";

export type Queryable = pg.Pool | pg.PoolClient;

/**
 * Runs fn in one transaction: on the given client (a push does all its work on one connection), or
 * on a client of its own from a pool. With applying = true the writes are the worker's own
 * (`hubsync.applying`): write-back triggers do not send them back to HubSpot (echo suppression).
 */
export async function inTransaction<T>(db: Queryable, fn: (client: pg.PoolClient) => Promise<T>, applying = false): Promise<T> {
  const own = !("release" in db);
  const client = own ? await (db as pg.Pool).connect() : (db as pg.PoolClient);
  try {
    await client.query("begin");
    if (applying) await client.query("select set_config('hubsync.applying', 'on', true)");
    const out = await fn(client);
    await client.query("commit");
    return out;
  } catch (err) {
    await client.query("rollback").catch(() => {});
    throw err;
  } finally {
    if (own) client.release();
  }
}

/** A transaction whose writes to hubspot.* are the sync's own (pulled data, HubSpot's answers). */
export function inApplyingTransaction<T>(db: Queryable, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(db, fn, true);
}
