import type { Task } from "graphile-worker";
import { sweepLists } from "../src/core/lists/sweep.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

/** Cron entry: reads every list's members in full (removals, deleted lists), when lists are enabled and live. */
const task: Task = async () => {
  const ctx = await getWorkerContext();
  await sweepLists(ctx);
};
export default task;
