import type pg from "pg";
import type { JobHelpers, Task } from "graphile-worker";
import { z } from "zod";
import { PausedError } from "../hubspot/errors.ts";
import type { Logger } from "../log.ts";
import { WORKER_SCHEMA } from "../db/install.ts";

/**
 * Jobs and HubSpot pauses. While the daily quota is used up or the access token is refused, a job
 * that would call HubSpot neither fails (graphile-worker would retry it with a growing backoff and
 * finally give up on it) nor loops: it is put back for the moment the pause ends and completes.
 * A job without a key (cron) is simply dropped: the crontab brings it back.
 */

const ActivePause = z.object({ until: z.date(), reason: z.string(), message: z.string().nullable() });

/** The portal-wide pause in force now, if any (one the probe may already be testing is not "in force"). */
export async function activePause(pool: pg.Pool): Promise<PausedError | null> {
  const { rows } = await pool.query(
    `select blocked_until as until, blocked_reason as reason, blocked_message as message from hubsync.rate_budget
      where bucket = 'general' and blocked_reason in ('daily', 'auth', 'migration') and blocked_until > clock_timestamp()`,
  );
  if (rows.length === 0) return null;
  const p = ActivePause.parse(rows[0]);
  const reason = p.reason === "daily" || p.reason === "migration" ? p.reason : "auth";
  return new PausedError(reason, p.until, p.message ?? `HubSpot calls paused (${p.reason})`);
}

/** Puts the running job back for `until` under its job key (a locked job keeps running; graphile inserts the new one). */
async function requeue(pool: pg.Pool, helpers: JobHelpers, until: Date): Promise<boolean> {
  const job = helpers.job;
  if (!job.key) return false;
  const { rows } = await pool.query<{ queue_name: string }>(
    `select queue_name from ${WORKER_SCHEMA}._private_job_queues where id = $1`,
    [job.job_queue_id],
  );
  await helpers.addJob(job.task_identifier, job.payload as never, {
    jobKey: job.key,
    runAt: until,
    priority: job.priority,
    maxAttempts: job.max_attempts,
    ...(rows[0] ? { queueName: rows[0].queue_name } : {}),
  });
  return true;
}

export function pausable(task: Task, getPool: () => Promise<pg.Pool>, log: Logger): Task {
  return async (payload, helpers) => {
    const pool = await getPool();
    const before = await activePause(pool);
    if (before) {
      const requeued = await requeue(pool, helpers, before.until);
      log.debug({ task: helpers.job.task_identifier, key: helpers.job.key, until: before.until.toISOString(), requeued }, "HubSpot calls are paused; job deferred");
      return;
    }
    try {
      await task(payload, helpers);
    } catch (err) {
      if (!(err instanceof PausedError)) throw err;
      const requeued = await requeue(pool, helpers, err.until);
      log.warn(
        { task: helpers.job.task_identifier, key: helpers.job.key, reason: err.reason, until: err.until.toISOString(), requeued, error: err.message },
        "job waits for HubSpot",
      );
    }
  };
}
