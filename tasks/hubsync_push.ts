import { createPushTask } from "../src/core/push/task.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

/** Pushes an object type's outbox to HubSpot ({objectType}); without one, wakes every type with changes due. */
export default createPushTask(getWorkerContext);
