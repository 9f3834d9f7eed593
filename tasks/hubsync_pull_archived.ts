import type { Task } from "graphile-worker";
import { z } from "zod";
import { scheduledArchivedScans } from "../src/core/pull/archived.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

// graphile-worker's crontab adds `_cron` to the payload: then only the scans the daily-quota policy says are due run
const Payload = z.object({ objectType: z.string().min(1).optional(), _cron: z.unknown().optional() }).default({});

/** Cron entry: the archived list of each live CRM object (or one, when named) → deletes / archived_at. */
const task: Task = async (payload) => {
  const { objectType, _cron } = Payload.parse(payload ?? {});
  const ctx = await getWorkerContext();
  await scheduledArchivedScans(ctx, { only: objectType, fromCron: _cron !== undefined });
};
export default task;
