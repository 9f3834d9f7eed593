import { refreshChangedAssociations } from "../src/core/associations/refresh.ts";
import { liveObjectTask } from "../src/core/worker/context.ts";

/** Enqueued (sql/50_associations.sql) after each incremental pull: associations of the records it wrote. */
export default liveObjectTask(refreshChangedAssociations);
