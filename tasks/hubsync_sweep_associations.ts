import type { Task } from "graphile-worker";
import { z } from "zod";
import { sweepAssociations } from "../src/core/associations/sweep.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

// The crontab passes graphile's own `_cron` payload; an objectType narrows the sweep to its pairs.
const Payload = z.object({ objectType: z.string().min(1).optional() }).passthrough();

/** Periodic re-read of every live association pair (catches association-only changes). */
const task: Task = async (payload, helpers) => {
  const { objectType } = Payload.parse(payload ?? {});
  const ctx = await getWorkerContext();
  await sweepAssociations(ctx, { objectType, kind: "sweep", signal: helpers.abortSignal });
};
export default task;
