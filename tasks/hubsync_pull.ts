import { pullIncremental } from "../src/core/pull/incremental.ts";
import { liveObjectTask } from "../src/core/worker/context.ts";

/** One incremental pass (search on last-modified) for a live object. */
export default liveObjectTask(pullIncremental);
