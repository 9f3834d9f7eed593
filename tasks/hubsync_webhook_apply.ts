import type { Task } from "graphile-worker";
import { applyWebhookEvents } from "../src/core/webhooks/apply.ts";
import { readApplySettings } from "../src/core/webhooks/config.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

/** Woken by the webhook receiver (sql/60_webhooks.sql): applies what the inbox holds. */
const task: Task = async () => {
  const ctx = await getWorkerContext();
  await applyWebhookEvents(ctx, readApplySettings());
};
export default task;
