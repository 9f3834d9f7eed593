import type pg from "pg";
import { z } from "zod";
import { waitFor } from "../shared/wait.ts";
import { pullNow } from "../shared/pull-now.ts";
import { enqueueInDatabase } from "../../core/jobs.ts";

/**
 * Quiescence after the last change: every local change answered by HubSpot (outbox drained), then
 * one pass of each crontab job started after the last change had had time to reach search (the
 * index lag): incremental pulls, the archived list, the association sweep, and the nightly id-only
 * reconcile (restores bump no last-modified date, so only it brings them back). Enqueued now
 * rather than waited for: the same jobs and job keys as the crontab, only sooner.
 */

const OpenRow = z.object({ open: z.coerce.number(), due_in_ms: z.coerce.number().nullable() });

export async function outboxOpen(pool: pg.Pool): Promise<{ open: number; dueInMs: number | null }> {
  const { rows } = await pool.query(
    `select count(*) as open,
            extract(epoch from (min(next_attempt_at) - now())) * 1000 as due_in_ms
       from hubsync.outbox where status in ('pending', 'in_flight')`,
  );
  const r = OpenRow.parse(rows[0]);
  return { open: r.open, dueInMs: r.due_in_ms };
}

/** hubsync jobs queued or running (not permanently failed). */
async function jobsLeft(pool: pg.Pool): Promise<Array<{ task: string; locked: boolean; attempts: number }>> {
  const { rows } = await pool.query<{ task_identifier: string; locked: boolean; attempts: number }>(
    `select task_identifier, locked_at is not null as locked, attempts from hubsync_worker.jobs
      where attempts < max_attempts and (run_at <= now() + interval '2 seconds' or locked_at is not null)`,
  );
  return rows.map((r) => ({ task: r.task_identifier, locked: r.locked, attempts: r.attempts }));
}

/** (object type, run kind) pairs with an ok run started at or after `since`. */
async function runsSince(pool: pg.Pool, since: Date): Promise<Set<string>> {
  const { rows } = await pool.query<{ key: string }>(
    `select distinct object_type || ':' || kind as key from hubsync.runs where started_at >= $1 and status = 'ok' and object_type is not null`,
    [since],
  );
  return new Set(rows.map((r) => r.key));
}

const PULL_KINDS = ["incremental", "archived", "reconcile"] as const;

export interface SettleRound {
  /** When the catch-up jobs were queued (database clock). */
  startedAt: Date;
  ms: number;
}

/**
 * One catch-up round: waits for the outbox to drain and the index lag after the last change to
 * pass, queues the crontab's jobs, and waits until each type has an ok incremental, archived and
 * reconcile run started after that, no hubsync job is left, and the outbox is still empty.
 */
export async function catchUpRound(
  pool: pg.Pool,
  opts: {
    types: readonly string[];
    lastChangeAt: number;
    indexLagMs: number;
    timeoutMs: number;
    /**
     * With webhooks: send what the simulator holds once the outbox drained (pushes make events too).
     * The inbox need not be empty: events a killed worker had claimed wait out their claim (60 s),
     * and the pulls below bring the same changes anyway.
     */
    webhooks?: { flush(): Promise<void> };
  },
): Promise<SettleRound> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const left = () => Math.max(1_000, deadline - Date.now());
  await waitFor(
    "the outbox to drain",
    async () => ((await outboxOpen(pool)).open === 0 ? true : undefined),
    { timeoutMs: left(), intervalMs: 250, describe: async () => JSON.stringify(await outboxOpen(pool)) },
  );
  await opts.webhooks?.flush();
  const lagLeft = opts.lastChangeAt + opts.indexLagMs - Date.now();
  if (lagLeft > 0) await new Promise((r) => setTimeout(r, lagLeft));

  const { rows } = await pool.query<{ now: Date }>(`select now()`);
  const since = rows[0]!.now;
  for (const t of opts.types) await pullNow(pool, t);
  // Same job keys (and queue for the sweep) as the crontab's entries: at most one of each.
  for (const task of ["hubsync_pull_archived", "hubsync_sweep_associations", "hubsync_reconcile"] as const) await enqueueInDatabase(pool, task);

  const state = async () => {
    const done = await runsSince(pool, since);
    const missing = opts.types.flatMap((t) => PULL_KINDS.filter((k) => !done.has(`${t}:${k}`)).map((k) => `${t}:${k}`));
    const jobs = await jobsLeft(pool);
    const outbox = await outboxOpen(pool);
    return { missing, jobs, outbox };
  };
  await waitFor(
    "the catch-up jobs",
    async () => {
      const s = await state();
      return s.missing.length === 0 && s.jobs.length === 0 && s.outbox.open === 0 ? true : undefined;
    },
    {
      timeoutMs: left(),
      intervalMs: 250,
      describe: async () => {
        const s = await state();
        return `runs not yet done: ${s.missing.join(", ") || "none"}; jobs: ${s.jobs.map((j) => `${j.task}${j.locked ? " (running)" : ""}${j.attempts ? ` attempt ${j.attempts}` : ""}`).join(", ") || "none"}; open outbox rows: ${s.outbox.open}`;
      },
    },
  );
  return { startedAt: since, ms: Date.now() - started };
}
