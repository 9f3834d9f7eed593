import type { Task } from "graphile-worker";
import { applyWebhookEvents } from "../src/webhooks/apply.ts";
import { readApplySettings } from "../src/webhooks/config.ts";
import { getWorkerContext } from "../src/worker/context.ts";

/** Woken by the webhook receiver (sql/60_webhooks.sql): applies what the inbox holds. */
const task: Task = async () => {
  const ctx = await getWorkerContext();
  await applyWebhookEvents(ctx, readApplySettings());
};
export default task;
