import pg from "pg";
import type { WorkerEvents } from "graphile-worker";
import { WORKER_SCHEMA } from "../db/install.ts";
import type { Logger } from "../log.ts";

/**
 * graphile-worker releases a job locked by a worker that died (SIGKILL, OOM, lost host) only after
 * 4 hours, and the job's named queue with it: a killed backfill would hold its object's whole
 * queue (pulls included) that long. So each worker process holds a session-level advisory lock
 * named after each of its worker-pool ids (the pulls' and the pushes') on a connection of its own; the lock goes when the process (or
 * its connection) does. Any worker then treats locks whose owner's advisory lock is free as
 * orphaned and releases them with graphile's force_unlock_workers: at start, and every few
 * seconds. Locks younger than GRACE_MS are left alone: a pool locks its first job a moment after
 * it is created, before its advisory lock is certainly taken.
 *
 * The same check closes the hubsync.runs a dead worker left 'running' (each run carries its
 * worker's pool id) as 'abandoned', with the reason: otherwise they would read as under way
 * forever, and the job that graphile retries starts a run of its own anyway.
 */

const GRACE_MS = 5_000;
const RECONNECT_MS = 1_000;
const KEY = (id: string) => `hubsync worker ${id}`;

export interface LivenessLock {
  /** Starts holding the lock of a worker pool (the id graphile gives it); a process may run several. */
  hold(poolId: string): void;
  close(): Promise<void>;
}

/** Holds the advisory locks of this process's worker pools, reconnecting after a lost connection (a PostgreSQL restart). */
export function livenessLock(databaseUrl: string, log: Logger): LivenessLock {
  const poolIds: string[] = [];
  let client: pg.Client | null = null;
  // every id in poolIds is locked on `client` (pools created later take theirs at once)
  let connected = false;
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  const take = (c: pg.Client, id: string) => c.query(`select pg_advisory_lock(hashtextextended($1, 0))`, [KEY(id)]);

  const connect = async (): Promise<void> => {
    if (closed || poolIds.length === 0 || client) return;
    const c = new pg.Client({ connectionString: databaseUrl, application_name: "hubsync worker liveness" });
    client = c;
    connected = false;
    const retry = (err: unknown) => {
      if (client !== c) return;
      client = null;
      connected = false;
      c.end().catch(() => {});
      if (closed) return;
      log.warn({ err: err instanceof Error ? err.message : String(err) }, "worker liveness lock lost; taking it again");
      timer = setTimeout(() => void connect(), RECONNECT_MS);
    };
    c.on("error", retry);
    c.on("end", () => retry(new Error("connection ended")));
    try {
      await c.connect();
      // by index: a pool created while this runs is taken here too
      for (let i = 0; i < poolIds.length; i++) await take(c, poolIds[i]!);
      connected = true;
    } catch (err) {
      retry(err);
    }
  };

  return {
    hold(id) {
      poolIds.push(id);
      if (client && connected) take(client, id).catch((err: unknown) => log.warn({ err: String(err) }, "could not take a worker pool's liveness lock"));
      else void connect();
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}

/**
 * Releases jobs and queues locked by worker pools whose process is gone, and closes their runs as
 * 'abandoned'. Returns the pool ids released. `self` (this process's pools) is never released,
 * even while its own locks are being taken again after a reconnect.
 */
export async function unlockDeadWorkers(pool: pg.Pool, self: ReadonlySet<string>, log: Logger): Promise<string[]> {
  const client = await pool.connect();
  const released: string[] = [];
  try {
    const { rows } = await client.query<{ locked_by: string }>(
      `select locked_by from (
         select locked_by, locked_at from ${WORKER_SCHEMA}._private_jobs where locked_by is not null
         union all
         select locked_by, locked_at from ${WORKER_SCHEMA}._private_job_queues where locked_by is not null
         union all
         select worker_id, started_at from hubsync.runs where status = 'running' and worker_id is not null) l
        group by locked_by
       having min(locked_at) < now() - make_interval(secs => $1::float8 / 1000)`,
      [GRACE_MS],
    );
    for (const { locked_by: id } of rows) {
      if (self.has(id)) continue;
      const { rows: got } = await client.query<{ free: boolean }>(`select pg_try_advisory_lock(hashtextextended($1, 0)) as free`, [KEY(id)]);
      if (!got[0]?.free) continue;
      try {
        const { rows: jobs } = await client.query<{ id: string; task_identifier: string }>(
          `select j.id, t.identifier as task_identifier from ${WORKER_SCHEMA}._private_jobs j join ${WORKER_SCHEMA}._private_tasks t on t.id = j.task_id where j.locked_by = $1`,
          [id],
        );
        await client.query(`select ${WORKER_SCHEMA}.force_unlock_workers(array[$1::text])`, [id]);
        const { rows: runs } = await client.query<{ id: string; kind: string; object_type: string | null }>(
          `update hubsync.runs
              set status = 'abandoned', finished_at = now(),
                  error = format('worker %s stopped during the run (killed, or lost its database connection); its job is retried', worker_id)
            where worker_id = $1 and status = 'running'
          returning id, kind, object_type`,
          [id],
        );
        released.push(id);
        log.warn(
          { workerPool: id, jobs: jobs.map((j) => `${j.task_identifier}#${j.id}`), abandonedRuns: runs.map((r) => `${r.kind}${r.object_type ? `:${r.object_type}` : ""}#${r.id}`) },
          "released the jobs of a worker that is gone (killed, or lost its database connection)",
        );
      } finally {
        await client.query(`select pg_advisory_unlock(hashtextextended($1, 0))`, [KEY(id)]);
      }
    }
  } finally {
    client.release();
  }
  return released;
}

export interface LivenessWatch {
  stop(): Promise<void>;
}

/**
 * What the runner calls before starting graphile: releases what dead workers left locked (so this
 * worker can carry their backfills, pulls and pushes on), holds this worker's own lock for each
 * pool it creates, and checks again every `intervalMs` (env HUBSYNC_DEAD_WORKER_CHECK_MS, default 10 s)
 * for workers that die while this one runs.
 */
export async function watchLiveness(opts: { pool: pg.Pool; databaseUrl: string; events: WorkerEvents; log: Logger; intervalMs?: number }): Promise<LivenessWatch> {
  const { pool, log } = opts;
  const intervalMs = opts.intervalMs ?? Number(process.env.HUBSYNC_DEAD_WORKER_CHECK_MS ?? 10_000);
  const lock = livenessLock(opts.databaseUrl, log);
  const self = new Set<string>();
  opts.events.on("pool:create", ({ workerPool }) => {
    self.add(workerPool.id);
    lock.hold(workerPool.id);
  });
  const check = () =>
    unlockDeadWorkers(pool, self, log).catch((err: unknown) => {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, "could not check for jobs of dead workers");
      return [];
    });
  await check();
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => (running = check()), intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
      await lock.close();
    },
  };
}
