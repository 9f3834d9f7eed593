import type { AddJobFunction } from "graphile-worker";
import type pg from "pg";

/**
 * Every job hubsync queues: which step queues which task, under which job key and in which queue.
 * A job key keeps at most one waiting job per task (and object type): queueing it again replaces
 * the waiting one instead of adding a second. A named queue runs its jobs one at a time.
 *
 * | task                          | queued by                                                                                    | job key                                | queue                |
 * |-------------------------------|----------------------------------------------------------------------------------------------|----------------------------------------|----------------------|
 * | hubsync_discover              | hubsync.enable_sync, hubsync.resync (never discovered); hubsync_pull_all (phase discovering) | hubsync_discover:<type>                | hubsync:<type>       |
 * | hubsync_backfill              | hubsync_discover (phase backfilling); hubsync.resync; hubsync_pull_all (phase backfilling)   | hubsync_backfill:<type>                | hubsync:<type>       |
 * | hubsync_pull                  | hubsync_backfill (done); hubsync_discover (phase live); hubsync_pull_all (phase live)        | hubsync_pull:<type>                    | hubsync:<type>       |
 * | hubsync_push                  | the outbox triggers (hubsync._wake_push), a push's retry time                                | hubsync_push:<type>                    | none                 |
 * | hubsync_push (sweep, no type) | the worker's start; crontab every minute                                                     | hubsync_push_sweep                     | none                 |
 * | hubsync_refresh               | hubsync.refresh (priority -20: ahead of every other waiting job)                             | hubsync_refresh:<type>                 | none                 |
 * | hubsync_backfill_associations | a CRM type's phase becoming backfilling or live (trigger on hubsync.objects)                 | hubsync_backfill_associations:<type>   | hubsync:associations |
 * | hubsync_refresh_associations  | an incremental pull finishing (trigger on hubsync.objects.last_pull_at)                      | hubsync_refresh_associations:<type>    | hubsync:associations |
 * | hubsync_sweep_associations    | crontab every 10 minutes (runs when src/core/daily-quota.ts says it is due)                  | hubsync_sweep_associations             | hubsync:associations |
 * | hubsync_webhook_apply         | the webhook receiver (hubsync._wake_webhook_apply); its own retry time                       | hubsync_webhook_apply (retry: …:retry) | hubsync:webhooks     |
 * | hubsync_pull_all              | crontab every minute                                                                         | hubsync_pull_all                       | none                 |
 * | hubsync_pull_archived         | crontab every 5 minutes (each type when src/core/daily-quota.ts says it is due)              | hubsync_pull_archived                  | none                 |
 * | hubsync_reconcile             | crontab daily                                                                                | hubsync_reconcile                      | none                 |
 * | hubsync_prune                 | crontab hourly                                                                               | hubsync_prune                          | none                 |
 * | hubsync_history               | hubsync.track_history; a transaction that changed records of a type with tracked properties  | hubsync_history:<type>                 | hubsync:history      |
 * | hubsync_publish               | hubsync.publish; a commit to a published table (statement trigger)                           | hubsync_publish:<publication>          | none                 |
 * | hubsync_publish (sweep)       | crontab every minute (queues the publications of views and those whose schedule is due)     | hubsync_publish                        | none                 |
 * | hubsync_sweep_lists           | crontab hourly (when lists are enabled and live)                                             | hubsync_sweep_lists                    | hubsync:lists        |
 *
 * The pulls of one type share its queue, so a backfill and a pull never overlap; association jobs
 * share one queue, so two of them never write the same pair table at once; webhook applies run one
 * at a time, so an older read never lands after a newer delete. The sweep of lists shares the queue of
 * the lists' own pulls, so the two never write the membership table at once.
 *
 * SQL queues through hubsync._enqueue (sql/05_jobs.sql), which spells the same keys and queues;
 * the crontab file spells them for its entries. test/jobs.test.ts checks all three agree.
 */
export const TASKS = {
  hubsync_discover: { queue: "object" },
  hubsync_backfill: { queue: "object" },
  hubsync_pull: { queue: "object" },
  hubsync_push: { queue: null },
  hubsync_refresh: { queue: null, priority: -20 },
  hubsync_backfill_associations: { queue: "hubsync:associations" },
  hubsync_refresh_associations: { queue: "hubsync:associations" },
  hubsync_sweep_associations: { queue: "hubsync:associations" },
  hubsync_webhook_apply: { queue: "hubsync:webhooks" },
  hubsync_pull_all: { queue: null },
  hubsync_pull_archived: { queue: null },
  hubsync_reconcile: { queue: null },
  hubsync_prune: { queue: null },
  hubsync_publish: { queue: null },
  hubsync_history: { queue: "hubsync:history" },
  hubsync_sweep_lists: { queue: "hubsync:lists" },
} as const satisfies Record<string, { queue: "object" | `hubsync:${string}` | null; priority?: number }>;

export type TaskName = keyof typeof TASKS;

/** All jobs of one object type run in one named queue, so a backfill and a pull never overlap. */
export function objectQueue(objectType: string): string {
  return `hubsync:${objectType}`;
}

/** The job key of a task (for one object type, or the task-wide job without one). */
export function jobKey(task: TaskName, objectType?: string): string {
  if (objectType !== undefined) return `${task}:${objectType}`;
  // the push without a type is the sweep of every type, apart from the per-type pushes
  return task === "hubsync_push" ? "hubsync_push_sweep" : task;
}

/** The queue a task's jobs run in (null: none, jobs run side by side). */
export function jobQueue(task: TaskName, objectType?: string): string | null {
  const queue = TASKS[task].queue;
  if (queue !== "object") return queue;
  if (objectType === undefined) throw new Error(`hubsync: ${task} needs an object type`);
  return objectQueue(objectType);
}

/** A task's graphile-worker priority: lower runs first, 0 unless the table above says otherwise. */
export function jobPriority(task: TaskName): number {
  const t = TASKS[task];
  return "priority" in t ? t.priority : 0;
}

/**
 * What to queue: graphile-worker's task, payload and options, keyed and queued as the table above
 * says. `objectType` is the publication's name for hubsync_publish (payload {publication}).
 */
export function job(
  task: TaskName,
  objectType?: string,
): { task: TaskName; payload: { objectType?: string; publication?: string }; jobKey: string; queueName: string | undefined; priority: number } {
  const payload = objectType === undefined ? {} : task === "hubsync_publish" ? { publication: objectType } : { objectType };
  return { task, payload, jobKey: jobKey(task, objectType), queueName: jobQueue(task, objectType) ?? undefined, priority: jobPriority(task) };
}

/** Queues a task from inside a task or the runner (graphile-worker's addJob). */
export async function enqueue(addJob: AddJobFunction, task: TaskName, objectType?: string): Promise<void> {
  const j = job(task, objectType);
  await addJob(j.task, j.payload, { jobKey: j.jobKey, queueName: j.queueName, priority: j.priority });
}

/** Queues a task through the database (tools that drive a worker they did not start). */
export async function enqueueInDatabase(pool: pg.Pool, task: TaskName, objectType?: string): Promise<void> {
  const j = job(task, objectType);
  await pool.query(`select hubsync_worker.add_job($1, $2::json, queue_name := $3, job_key := $4, priority := $5)`, [
    j.task,
    JSON.stringify(j.payload),
    j.queueName ?? null,
    j.jobKey,
    j.priority,
  ]);
}
