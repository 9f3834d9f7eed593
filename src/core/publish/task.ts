import { parseCronItems, type Task } from "graphile-worker";
import type pg from "pg";
import { z } from "zod";
import type { SyncContext } from "../context.ts";
import { enqueue } from "../jobs.ts";

const Payload = z.object({ publication: z.string().min(1).optional() }).passthrough();

/** What a run did (hubsync._publish_run): source rows read, rows queued, records leaving (mirror), rows unchanged. */
export const RunResult = z.object({ rows: z.number(), queued: z.number(), leaving: z.number(), unchanged: z.number() });
export type RunResult = z.infer<typeof RunResult>;

/**
 * One run of a publication: queues the source rows that changed since the last run into the outbox
 * (the push sends them). A failure is kept in the publication's last_error (hubsync.publications)
 * and thrown for graphile-worker to retry. Returns null if there is no such publication.
 */
export async function runPublication(ctx: SyncContext, name: string): Promise<RunResult | null> {
  try {
    const res = await ctx.pool.query<{ r: unknown }>(`select hubsync._publish_run($1) as r`, [name]);
    const raw = res.rows[0]?.r;
    if (raw == null) return null;
    const result = RunResult.parse(raw);
    if (result.queued + result.leaving > 0) ctx.log.info({ publication: name, ...result }, "publication run queued changes");
    return result;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await ctx.pool.query(`update hubsync.publication_config set last_error = $2, last_error_at = now() where name = $1`, [name, message]);
    throw err;
  }
}

/**
 * The publications due this minute: a view's (or materialized view's) every minute unless it has a
 * schedule, and every publication whose own crontab expression matches (UTC). A table without a
 * schedule is run by its statement trigger after each commit instead.
 */
export async function duePublications(db: pg.Pool, at: Date): Promise<string[]> {
  const { rows } = await db.query<{ name: string; schedule: string | null; is_table: boolean }>(
    `select p.name, p.schedule, c.relkind in ('r', 'p') as is_table
       from hubsync.publication_config p join pg_catalog.pg_class c on c.oid = p.source order by p.name`,
  );
  const digest = { min: at.getUTCMinutes(), hour: at.getUTCHours(), date: at.getUTCDate(), month: at.getUTCMonth() + 1, dow: at.getUTCDay() };
  const due: string[] = [];
  for (const r of rows) {
    if (r.schedule === null) {
      if (!r.is_table) due.push(r.name);
      continue;
    }
    try {
      const [item] = parseCronItems([{ task: "hubsync_publish", match: r.schedule }]);
      if (item!.match(digest)) due.push(r.name);
    } catch (err) {
      const message = `schedule ${JSON.stringify(r.schedule)} is not a crontab expression: ${err instanceof Error ? err.message : String(err)}`;
      await db.query(`update hubsync.publication_config set last_error = $2, last_error_at = now() where name = $1 and last_error is distinct from $2`, [r.name, message]);
    }
  }
  return due;
}

/** The hubsync_publish task: with a publication, one run of it; without (the crontab's sweep), queues the publications due. */
export function createPublishTask(getContext: () => Promise<SyncContext>): Task {
  return async (payload, helpers) => {
    const { publication } = Payload.parse(payload ?? {});
    const ctx = await getContext();
    if (publication) {
      await runPublication(ctx, publication);
      return;
    }
    for (const name of await duePublications(ctx.pool, new Date())) await enqueue(helpers.addJob, "hubsync_publish", name);
  };
}
