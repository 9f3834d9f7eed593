import { AsyncLocalStorage } from "node:async_hooks";
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
    if (applying) await client.query("select set_config('hubsync.applying', 'on', true), set_config('hubsync.change_source', $1, true)", [changeSource.getStore() ?? "pull"]);
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

/** Where the sync's writes come from, as hubsync.changes records them (the push marks its own in SQL). */
export type ChangeSource = "pull" | "webhook" | "reconcile";
const changeSource = new AsyncLocalStorage<ChangeSource>();

/**
 * Runs fn with its applying transactions logged under `source` in hubsync.changes (sql/80_history.sql):
 * the webhook apply and the reconciliation write through the pull's code, which needs not know.
 */
export function withChangeSource<T>(source: ChangeSource, fn: () => Promise<T>): Promise<T> {
  return changeSource.run(source, fn);
}

/** A transaction whose writes to hubspot.* are the sync's own (pulled data, HubSpot's answers). */
export function inApplyingTransaction<T>(db: Queryable, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(db, fn, true);
}
