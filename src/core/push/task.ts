import type { Task } from "graphile-worker";
import type { SyncContext } from "../context.ts";
import { z } from "zod";
import { wake } from "./outbox.ts";
import { runPush, type PushOptions } from "./run.ts";

const Payload = z.object({ objectType: z.string().min(1).optional() }).passthrough();

/**
 * The hubsync_push task. With an objectType: push that type's outbox. Without one (the worker's
 * start, a cron sweep): wake the push of every type with changes due — after a crash this is what
 * picks up rows whose job died with the worker (graphile-worker keeps a dead worker's job locked
 * for 4 hours).
 */
export function createPushTask(getContext: () => Promise<SyncContext>, options: PushOptions = {}): Task {
  return async (payload) => {
    const { objectType } = Payload.parse(payload ?? {});
    const ctx = await getContext();
    if (!objectType) {
      const res = await ctx.pool.query<{ object_type: string }>(
        `select distinct object_type from hubsync.outbox where status in ('pending', 'in_flight') and next_attempt_at <= now()`,
      );
      for (const r of res.rows) await wake(ctx.pool, r.object_type);
      return;
    }
    // Writers that found this job queued did not queue one of their own (hubsync._wake_push): the
    // push must see their changes, so it waits for those still committing before it claims rows.
    await ctx.pool.query(`select hubsync._push_wake_barrier($1)`, [objectType]);
    await runPush(ctx, objectType, options);
  };
}
