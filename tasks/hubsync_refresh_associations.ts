import type { Task } from "graphile-worker";
import { z } from "zod";
import { refreshChangedAssociations } from "../src/core/associations/refresh.ts";
import { loadObject } from "../src/core/schema/objects.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

const Payload = z.object({ objectType: z.string().min(1) });

/** Enqueued (sql/50_associations.sql) after each incremental pull: associations of the records it wrote. */
const task: Task = async (payload) => {
  const { objectType } = Payload.parse(payload);
  const ctx = await getWorkerContext();
  const row = await loadObject(ctx.pool, objectType);
  if (!row.enabled || row.phase !== "live") return;
  await refreshChangedAssociations(ctx, objectType);
};
export default task;
