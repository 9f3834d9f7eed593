import type { Task } from "graphile-worker";
import { z } from "zod";
import { scheduledReconcile } from "../src/core/pull/reconcile.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

const Payload = z.object({ objectType: z.string().min(1).optional() }).default({});

/** Cron entry: id-only reconciliation of each live CRM object (hard deletes, merges and restores the other streams miss). */
const task: Task = async (payload) => {
  const { objectType } = Payload.parse(payload ?? {});
  const ctx = await getWorkerContext();
  await scheduledReconcile(ctx, objectType);
};
export default task;
