import type { Task } from "graphile-worker";
import { z } from "zod";
import { runDiscovery } from "../src/core/schema/discover.ts";
import { enqueue } from "../src/core/jobs.ts";
import { loadObject } from "../src/core/schema/objects.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

const Payload = z.object({ objectType: z.string().min(1) });

/** Creates/updates hubspot.<table> from HubSpot's properties, then hands over to the backfill (or the pull). */
const task: Task = async (payload, helpers) => {
  const { objectType } = Payload.parse(payload);
  const ctx = await getWorkerContext();
  await runDiscovery(ctx, objectType);
  // next step: the backfill, or (re-discovered after it finished) an incremental pull
  const { phase } = await loadObject(ctx.pool, objectType);
  const next = phase === "live" ? "hubsync_pull" : "hubsync_backfill";
  await enqueue(helpers.addJob, next, objectType);
};
export default task;
