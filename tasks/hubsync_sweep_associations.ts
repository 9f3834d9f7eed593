import type { Task } from "graphile-worker";
import { z } from "zod";
import { scheduledSweep } from "../src/core/associations/sweep.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

// The crontab passes graphile's own `_cron` payload (then the sweep runs only when the daily-quota
// policy says it is due); an objectType narrows the sweep to its pairs.
const Payload = z.object({ objectType: z.string().min(1).optional(), _cron: z.unknown().optional() }).passthrough();

/** Periodic re-read of every live association pair (catches association-only changes). */
const task: Task = async (payload, helpers) => {
  const { objectType, _cron } = Payload.parse(payload ?? {});
  const ctx = await getWorkerContext();
  await scheduledSweep(ctx, { objectType, signal: helpers.abortSignal, fromCron: _cron !== undefined });
};
export default task;
