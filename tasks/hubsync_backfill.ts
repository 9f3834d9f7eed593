import type { Task } from "graphile-worker";
import { z } from "zod";
import { backfill } from "../src/core/pull/backfill.ts";
import { enqueue } from "../src/core/jobs.ts";
import { loadObject } from "../src/core/schema/objects.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

const Payload = z.object({ objectType: z.string().min(1) });

/** Full copy, resumable: a retry continues from the last committed page. */
const task: Task = async (payload, helpers) => {
  const { objectType } = Payload.parse(payload);
  const ctx = await getWorkerContext();
  const row = await loadObject(ctx.pool, objectType);
  if (!row.enabled || row.phase !== "backfilling") return;
  await backfill(ctx, objectType);
  await enqueue(helpers.addJob, "hubsync_pull", objectType);
};
export default task;
