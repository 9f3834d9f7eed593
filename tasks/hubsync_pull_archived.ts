import type { Task } from "graphile-worker";
import { z } from "zod";
import { pullArchived } from "../src/core/pull/archived.ts";
import { forEachLiveCrmObject } from "../src/core/pull/jobs.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

const Payload = z.object({ objectType: z.string().min(1).optional() }).default({});

/** Cron entry: the archived list of each live CRM object (or one, when named) → deletes / archived_at. */
const task: Task = async (payload) => {
  const { objectType } = Payload.parse(payload ?? {});
  const ctx = await getWorkerContext();
  await forEachLiveCrmObject(ctx.pool, objectType, "hubsync_pull_archived", (t) => pullArchived(ctx, t));
};
export default task;
