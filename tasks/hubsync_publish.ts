import { createPublishTask } from "../src/core/publish/task.ts";
import { getWorkerContext } from "../src/core/worker/context.ts";

/** Runs a publication ({publication}): queues its changed source rows for the push; without one, queues the publications due this minute. */
export default createPublishTask(getWorkerContext);
