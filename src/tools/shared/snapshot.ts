import type pg from "pg";
import { z } from "zod";
import { quoteIdent } from "../../core/schema/naming.ts";

/**
 * What the sync looks like right now, read only from hubsync's own SQL surface (hubsync.status,
 * hubsync.runs, hubsync.rate_budget, the worker's job queue, hubspot.associations_*): the demo's
 * progress bars and the bench's "is it done yet" both read this, so they show what a DBA would see.
 */
export interface ObjectState {
  objectType: string;
  phase: string;
  rows: number;
  writeBack: boolean;
  pending: number;
  rejected: number;
  lastError: string | null;
}

export interface BudgetState {
  /** Reservations hubsync allows itself per window (HubSpot's limit minus headroom). */
  capacity: number;
  windowMs: number;
  /** Reservations inside the current window. */
  inWindow: number;
  requests: number;
  rateLimited: number;
}

export interface SyncSnapshot {
  objects: ObjectState[];
  associations: Array<{ table: string; rows: number }>;
  budget: BudgetState | null;
  runs: { requests: number; rateLimited: number; failed: number };
  /**
   * Queued or running jobs that are part of getting the initial copy: discover, backfill and the
   * association fill. Not the association refreshes the minute pulls queue: on a large portal there
   * is nearly always one, and counting it kept a finished million-contact copy "unfinished".
   */
  initialJobs: number;
  at: number;
}

const StatusRow = z.object({
  object_type: z.string(),
  phase: z.string(),
  rows: z.coerce.number().nullable(),
  write_back: z.boolean(),
  pending: z.coerce.number(),
  rejected: z.coerce.number(),
  last_error: z.string().nullable(),
});

const BudgetRow = z.object({
  capacity: z.coerce.number(),
  window_ms: z.coerce.number(),
  in_window: z.coerce.number(),
  requests: z.coerce.number(),
  rate_limited: z.coerce.number(),
});

const RunsRow = z.object({ requests: z.coerce.number(), rate_limited: z.coerce.number(), failed: z.coerce.number() });

async function optional<T>(fn: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await fn();
  } catch {
    // a table another part of hubsync adds (rate budget, association tables) may not exist yet
    return fallback;
  }
}

export async function readSnapshot(pool: pg.Pool): Promise<SyncSnapshot> {
  const objects = (
    await pool.query(`select object_type, phase, rows, write_back, pending, rejected, last_error from hubsync.status order by object_type`)
  ).rows.map((r) => {
    const s = StatusRow.parse(r);
    return {
      objectType: s.object_type,
      phase: s.phase,
      rows: s.rows ?? 0,
      writeBack: s.write_back,
      pending: s.pending,
      rejected: s.rejected,
      lastError: s.last_error,
    };
  });
  const budget = await optional(async () => {
    const { rows } = await pool.query(
      `select capacity, window_ms,
              (select count(*) from unnest(slots) s where s > clock_timestamp() - make_interval(secs => window_ms / 1000.0)) as in_window,
              requests, rate_limited
         from hubsync.rate_budget where bucket = 'general'`,
    );
    return rows[0] ? BudgetRow.parse(rows[0]) : null;
  }, null);
  const runs = RunsRow.parse(
    (
      await pool.query(
        `select coalesce(sum(requests), 0) as requests, coalesce(sum(rate_limited), 0) as rate_limited,
                count(*) filter (where status = 'error') as failed
           from hubsync.runs`,
      )
    ).rows[0],
  );
  const associations = await optional(async () => {
    const { rows } = await pool.query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = 'hubspot' and table_name like 'associations\\_%' order by 1`,
    );
    const out: Array<{ table: string; rows: number }> = [];
    for (const r of rows) {
      const c = await pool.query<{ n: string }>(`select count(*) as n from hubspot.${quoteIdent(r.table_name)}`);
      out.push({ table: r.table_name, rows: Number(c.rows[0]?.n ?? 0) });
    }
    return out;
  }, []);
  const initialJobs = await optional(async () => {
    const { rows } = await pool.query<{ n: string }>(
      `select count(*) as n from hubsync_worker.jobs
        where task_identifier in ('hubsync_discover', 'hubsync_backfill', 'hubsync_backfill_associations')
          and attempts < max_attempts`,
    );
    return Number(rows[0]?.n ?? 0);
  }, 0);
  return {
    objects,
    associations,
    budget: budget
      ? { capacity: budget.capacity, windowMs: budget.window_ms, inWindow: budget.in_window, requests: budget.requests, rateLimited: budget.rate_limited }
      : null,
    runs: { requests: runs.requests, rateLimited: runs.rate_limited, failed: runs.failed },
    initialJobs,
    at: Date.now(),
  };
}

/** The initial copy is finished: every object is live and no discover, backfill or association-fill job is left. */
export function initialCopyDone(s: SyncSnapshot, objectTypes: string[]): boolean {
  const live = objectTypes.every((t) => s.objects.find((o) => o.objectType === t)?.phase === "live");
  return live && s.initialJobs === 0;
}

/** Objects whose sync stopped with an error (the caller decides whether to wait or give up). */
export function failedObjects(s: SyncSnapshot, objectTypes: string[]): ObjectState[] {
  return s.objects.filter((o) => objectTypes.includes(o.objectType) && o.phase === "error");
}
