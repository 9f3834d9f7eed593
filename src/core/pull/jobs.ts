import type pg from "pg";
import type { AddJobFunction } from "graphile-worker";
import { PausedError } from "../hubspot/errors.ts";
import { listEnabledObjects } from "../schema/objects.ts";
import { enqueue, type TaskName } from "../jobs.ts";

const TASK_FOR_PHASE: Record<string, TaskName> = {
  discovering: "hubsync_discover",
  backfilling: "hubsync_backfill",
  live: "hubsync_pull",
};

/** Enqueues the next step of every enabled object (job keys keep one job per object and step). */
export async function enqueueForPhases(pool: pg.Pool, addJob: AddJobFunction): Promise<number> {
  let n = 0;
  for (const o of await listEnabledObjects(pool, Object.keys(TASK_FOR_PHASE))) {
    const task = TASK_FOR_PHASE[o.phase]!;
    await enqueue(addJob, task, o.object_type);
    n++;
  }
  return n;
}

/**
 * Runs a per-object stream over every live CRM object (or just `only`). One object's failure does
 * not starve the others (its run row records it); the job fails at the end if any did.
 */
export async function forEachLiveCrmObject(pool: pg.Pool, only: string | undefined, label: string, fn: (objectType: string) => Promise<unknown>): Promise<void> {
  const objects = (await listEnabledObjects(pool, ["live"])).filter((o) => o.kind === "crm" && (!only || o.object_type === only));
  const errors: string[] = [];
  for (const o of objects) {
    try {
      await fn(o.object_type);
    } catch (err) {
      // a portal-wide pause (daily quota, refused token) holds every object alike: stop here
      if (err instanceof PausedError && err.reason !== "scopes") throw err;
      errors.push(`${o.object_type}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (errors.length) throw new Error(`${label}: ${errors.join("; ")}`);
}
