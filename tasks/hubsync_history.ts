import type { Task } from "graphile-worker";
import { z } from "zod";
import { runHistory } from "../src/core/history/read.ts";
import { loadObject } from "../src/core/schema/objects.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

const Payload = z.object({ objectType: z.string().min(1) });

/**
 * Property history of one type (hubsync.track_history): the first read of newly tracked properties,
 * resumable page by page, then the records changed since their last read. Runs during the type's
 * backfill too: the history is HubSpot's, not the table's.
 */
const task: Task = async (payload) => {
  const { objectType } = Payload.parse(payload);
  const ctx = await getWorkerContext();
  const row = await loadObject(ctx.pool, objectType);
  if (!row.enabled || row.kind !== "crm" || !row.table_name) return;
  await runHistory(ctx, objectType);
};
export default task;
