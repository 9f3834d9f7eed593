import type { Task } from "graphile-worker";
import { prune } from "../src/core/retention.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

/** Cron entry: deletes hubsync's bookkeeping rows past their retention period (hubsync.settings), in short batches. */
const task: Task = async () => {
  const ctx = await getWorkerContext();
  await prune(ctx.pool, ctx.log, { pauseMs: 10 });
};
export default task;
