import type { Task } from "graphile-worker";
import { z } from "zod";
import { runDiscovery } from "../src/schema/discover.ts";
import { objectQueue } from "../src/pull/jobs.ts";
import { getWorkerContext } from "../src/worker/context.ts";

const Payload = z.object({ objectType: z.string().min(1) });

/** Creates/updates hubspot.<table> from HubSpot's properties, then hands over to the backfill. */
const task: Task = async (payload, helpers) => {
  const { objectType } = Payload.parse(payload);
  const ctx = await getWorkerContext();
  await runDiscovery(ctx, objectType);
  await helpers.addJob("hubsync_backfill", { objectType }, { jobKey: `hubsync_backfill:${objectType}`, queueName: objectQueue(objectType) });
};
export default task;
