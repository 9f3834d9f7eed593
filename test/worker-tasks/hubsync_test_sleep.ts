import type { Task } from "graphile-worker";
import { z } from "zod";
import { getWorkerContext } from "../../src/core/worker/context.ts";

// Fixture task for test/worker.test.ts: takes `ms` milliseconds, then records that it finished
// through the worker context's pool.
const Payload = z.object({ ms: z.number().int().min(0), label: z.string().default("job") });

const task: Task = async (payload) => {
  const { ms, label } = Payload.parse(payload);
  await new Promise((r) => setTimeout(r, ms));
  const { pool } = await getWorkerContext();
  await pool.query("insert into worker_test_done (label) values ($1)", [label]);
};
export default task;
