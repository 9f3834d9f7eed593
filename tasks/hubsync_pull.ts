import type { Task } from "graphile-worker";
import { z } from "zod";
import { pullIncremental } from "../src/core/pull/incremental.ts";
import { loadObject } from "../src/core/schema/objects.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

const Payload = z.object({ objectType: z.string().min(1) });

/** One incremental pass (search on last-modified) for a live object. */
const task: Task = async (payload) => {
  const { objectType } = Payload.parse(payload);
  const ctx = await getWorkerContext();
  const row = await loadObject(ctx.pool, objectType);
  if (!row.enabled || row.phase !== "live") return;
  await pullIncremental(ctx, objectType);
};
export default task;
