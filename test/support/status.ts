import type pg from "pg";
import { startTestWorker } from "../pull-helpers.ts";
import type { RunningWorker } from "../../src/core/worker/runner.ts";

export interface ObjectStatus {
  phase: string;
  last_error: string | null;
  last_error_at: Date | null;
  pending: number;
  rejected: number;
}

/** One object type's row of hubsync.status, as a DBA reads it. */
export async function objectStatus(pool: pg.Pool, objectType: string): Promise<ObjectStatus | undefined> {
  const { rows } = await pool.query(
    `select phase, last_error, last_error_at, pending::int, rejected::int from hubsync.status where object_type = $1`,
    [objectType],
  );
  return rows[0] as ObjectStatus | undefined;
}

/**
 * The in-process worker with extra environment (pause lengths and the like), read by the task
 * context when it is built; stop() stops it and restores the environment.
 */
export async function startWorkerWithEnv(
  dbUrl: string,
  sim: { url: string; token: string },
  env: Record<string, string>,
): Promise<{ worker: RunningWorker; stop(): Promise<void> }> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const worker = await startTestWorker(dbUrl, sim);
  return {
    worker,
    async stop() {
      await worker.stop();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    },
  };
}
