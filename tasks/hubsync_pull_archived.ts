import type { Task } from "graphile-worker";
import { z } from "zod";
import { pullArchived } from "../src/pull/archived.ts";
import { forEachLiveCrmObject } from "../src/pull/jobs.ts";
import { getWorkerContext } from "../src/worker/context.ts";

const Payload = z.object({ objectType: z.string().min(1).optional() }).default({});

/** Cron entry: the archived list of each live CRM object (or one, when named) → deletes / archived_at. */
const task: Task = async (payload) => {
  const { objectType } = Payload.parse(payload ?? {});
  const ctx = await getWorkerContext();
  await forEachLiveCrmObject(ctx.pool, objectType, "hubsync_pull_archived", (t) => pullArchived(ctx, t));
};
export default task;
