import type pg from "pg";
import { enqueueInDatabase } from "../../core/jobs.ts";

/**
 * Asks the worker for an incremental pull of one object type now instead of at the next minute of
 * its cron: the same job, queue and job key the cron path uses, so it never runs twice at once.
 */
export async function pullNow(pool: pg.Pool, objectType: string): Promise<void> {
  await enqueueInDatabase(pool, "hubsync_pull", objectType);
}
