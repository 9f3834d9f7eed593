import type { Task } from "graphile-worker";
import { z } from "zod";
import { sweepAssociations } from "../src/core/associations/sweep.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

const Payload = z.object({ objectType: z.string().min(1) });

/**
 * Enqueued (sql/50_associations.sql) when an object type is discovered or finishes its backfill:
 * creates its association tables with every other discovered type and fills those whose two ends are live.
 */
const task: Task = async (payload, helpers) => {
  const { objectType } = Payload.parse(payload);
  const ctx = await getWorkerContext();
  await sweepAssociations(ctx, { objectType, kind: "backfill", signal: helpers.abortSignal });
};
export default task;
