import type pg from "pg";
import type { Task } from "graphile-worker";
import { z } from "zod";
import { httpOptions, readEnv, requireAccessToken, requireDatabaseUrl, type Env } from "../config.ts";
import { createPool } from "../db/pool.ts";
import { createHubSpotApi, type HubSpotApi } from "../hubspot/client.ts";
import { log as rootLog } from "../log.ts";
import type { SyncContext } from "../context.ts";
import { loadObject } from "../schema/objects.ts";

/**
 * The worker's SyncContext, built once per worker process and shared by all jobs: one pg pool (the
 * runner's own when started by `hubsync worker`), one HubSpot client, and the logger. Its HubSpot
 * client is built on first use: tasks that never talk to HubSpot do not need HUBSPOT_ACCESS_TOKEN.
 * Tasks call getWorkerContext() at the top.
 */

interface State {
  pool: pg.Pool;
  ownsPool: boolean;
  hubspot: HubSpotApi | null;
  workerId: string | null;
  context: SyncContext;
}

let state: State | null = null;

function build(env: Env, pool: pg.Pool | null): State {
  const s: State = {
    pool: pool ?? createPool(requireDatabaseUrl(env), { max: 10, applicationName: "hubsync worker" }),
    ownsPool: pool === null,
    hubspot: null,
    workerId: null,
    context: null as unknown as SyncContext,
  };
  s.context = {
    pool: s.pool,
    get hubspot() {
      s.hubspot ??= createHubSpotApi({
        accessToken: requireAccessToken(env),
        basePath: env.HUBSPOT_BASE_URL,
        pool: s.pool,
        log: rootLog,
        ...httpOptions(env),
        learnTimeZone: true,
      });
      return s.hubspot;
    },
    log: rootLog,
    get workerId() {
      return s.workerId;
    },
  };
  return s;
}

export async function getWorkerContext(): Promise<SyncContext> {
  state ??= build(readEnv(), null);
  return state.context;
}

/** The runner hands its pool over before any job runs, so tasks and graphile share it. */
export function initWorkerContext(options: { pool: pg.Pool; env?: Env }): SyncContext {
  if (state) throw new Error("hubsync worker: the worker context was already initialised");
  state = build(options.env ?? readEnv(), options.pool);
  return state.context;
}

/** The runner names its worker pool once graphile has created it: the runs the tasks start carry its id. */
export function setWorkerId(id: string): void {
  if (state) state.workerId = id;
}

/** Releases what the context built (the HubSpot client; the pool only if the context opened it). */
export async function closeWorkerContext(): Promise<void> {
  const s = state;
  state = null;
  if (!s) return;
  s.hubspot?.close();
  if (s.ownsPool) await s.pool.end();
}

const ObjectPayload = z.object({ objectType: z.string().min(1) });

/**
 * A task that runs one step for one live object type. A job queued before the DBA disabled the
 * type, or before its backfill finished, does nothing: the backfill covers it, or nothing should.
 */
export function liveObjectTask(step: (ctx: SyncContext, objectType: string) => Promise<unknown>): Task {
  return async (payload) => {
    const { objectType } = ObjectPayload.parse(payload);
    const ctx = await getWorkerContext();
    const row = await loadObject(ctx.pool, objectType);
    if (!row.enabled || row.phase !== "live") return;
    await step(ctx, objectType);
  };
}
