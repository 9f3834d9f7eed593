import type { Task } from "graphile-worker";
import { z } from "zod";
import { serveRefreshRequests } from "../src/core/pull/refresh.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

const Payload = z.object({ objectType: z.string().min(1) });

/** Queued by hubsync.refresh (sql/52_refresh.sql): reads the requested records of a type now. */
const task: Task = async (payload) => {
  const { objectType } = Payload.parse(payload);
  const ctx = await getWorkerContext();
  await serveRefreshRequests(ctx, objectType);
};
export default task;
