import type { Task } from "graphile-worker";
import { enqueueForPhases } from "../src/core/pull/jobs.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

/**
 * Cron entry: an incremental pull for every live object, and a nudge for objects whose discovery
 * or backfill job is gone (a crash between steps) so enabling never needs a second call.
 */
const task: Task = async (_payload, helpers) => {
  const ctx = await getWorkerContext();
  await enqueueForPhases(ctx.pool, helpers.addJob);
};
export default task;
