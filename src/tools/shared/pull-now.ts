import type pg from "pg";
import { objectQueue } from "../../core/pull/jobs.ts";

/**
 * Asks the worker for an incremental pull of one object type now instead of at the next minute of
 * its cron: the same job, queue and job key the cron path uses, so it never runs twice at once.
 */
export async function pullNow(pool: pg.Pool, objectType: string): Promise<void> {
  await pool.query(`select hubsync_worker.add_job('hubsync_pull', json_build_object('objectType', $1::text), queue_name := $2, job_key := $3)`, [
    objectType,
    objectQueue(objectType),
    `hubsync_pull:${objectType}`,
  ]);
}
