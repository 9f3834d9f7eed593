import type pg from "pg";
import { Logger, run, type Runner } from "graphile-worker";
import { install } from "../src/core/db/install.ts";
import { createLogger } from "../src/core/log.ts";
import type { PushContext, PushOptions } from "../src/core/push/run.ts";
import { createPushTask } from "../src/core/push/task.ts";

/** `hubsync install`: worker schema, committed migrations, current.sql, the SQL API. */
export async function installSchema(url: string, _pool?: pg.Pool): Promise<void> {
  await install({ databaseUrl: url, log: createLogger({ level: "silent" }) });
}

export interface ColumnSpec {
  property: string;
  column?: string;
  hubspotType: string;
  pgType: string;
  readOnly?: boolean;
}

/** A hubspot.<table> shaped as discovery makes it (src/core/schema/discover.ts), registered in hubsync.objects/columns. */
export async function makeObjectTable(
  pool: pg.Pool,
  objectType: string,
  singular: string,
  columns: ColumnSpec[],
  config: { conflictPolicy?: string; onReject?: string; writeBack?: boolean } = {},
): Promise<void> {
  const cols = columns.map((c) => `"${c.column ?? c.property}" ${c.pgType}`).join(",\n  ");
  await pool.query(`create table hubspot.${objectType} (
    id text unique,
    ${cols},
    properties jsonb not null default '{}',
    created_at timestamptz, updated_at timestamptz, archived_at timestamptz,
    _sync_hash text, _sync_inserted_at timestamptz not null default now(), _sync_updated_at timestamptz not null default now())`);
  await pool.query(
    `insert into hubsync.objects (object_type, table_name, singular_name, phase, write_back, conflict_policy, on_reject, last_modified_property)
     values ($1, $1, $2, 'live', $3, $4, $5, $6)`,
    [
      objectType,
      singular,
      config.writeBack ?? true,
      config.conflictPolicy ?? "hubspot_wins",
      config.onReject ?? "keep_local",
      objectType === "contacts" ? "lastmodifieddate" : "hs_lastmodifieddate",
    ],
  );
  for (const c of columns) {
    await pool.query(
      `insert into hubsync.columns (object_type, property_name, column_name, hubspot_type, pg_type, read_only) values ($1, $2, $3, $4, $5, $6)`,
      [objectType, c.property, c.column ?? c.property, c.hubspotType, c.pgType, c.readOnly ?? false],
    );
  }
  await pool.query(`select hubsync._refresh_write_back($1)`, [objectType]);
}

export async function makeAssociationTable(pool: pg.Pool, a: string, b: string): Promise<void> {
  await pool.query(`create table hubspot.associations_${a}_${b} (
    ${a}_id text not null, ${b}_id text not null, labels text[] not null default '{}', type_ids int[] not null default '{}',
    primary key (${a}_id, ${b}_id))`);
}

export const CONTACT_COLUMNS: ColumnSpec[] = [
  { property: "email", hubspotType: "string", pgType: "text" },
  { property: "firstname", hubspotType: "string", pgType: "text" },
  { property: "lastname", hubspotType: "string", pgType: "text" },
  { property: "num_employees", hubspotType: "number", pgType: "numeric" },
  { property: "hs_is_unworked", hubspotType: "bool", pgType: "boolean" },
  { property: "date_of_birth", hubspotType: "date", pgType: "date" },
  { property: "last_seen", hubspotType: "datetime", pgType: "timestamptz" },
  { property: "interests", hubspotType: "enumeration", pgType: "text[]" },
  { property: "createdate", hubspotType: "datetime", pgType: "timestamptz", readOnly: true },
];

export const COMPANY_COLUMNS: ColumnSpec[] = [
  { property: "name", hubspotType: "string", pgType: "text" },
  { property: "domain", hubspotType: "string", pgType: "text" },
];

export const DEAL_COLUMNS: ColumnSpec[] = [
  { property: "dealname", hubspotType: "string", pgType: "text" },
  { property: "amount", hubspotType: "number", pgType: "numeric" },
];

/** The real worker (graphile-worker run, LISTEN/NOTIFY) with the push task, as `hubsync worker` runs it. */
export async function startPushWorker(ctx: PushContext, options: PushOptions = {}): Promise<Runner> {
  return run({
    pgPool: ctx.pool,
    schema: "hubsync_worker",
    concurrency: 2,
    noHandleSignals: true,
    pollInterval: 500,
    taskList: { hubsync_push: createPushTask(async () => ctx, options) },
    parsedCronItems: [],
    logger: new Logger(() => () => {}),
    preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
  });
}

/** Waits until nothing is pending or in flight in the outbox (optionally for one type). */
export async function drained(pool: pg.Pool, timeoutMs = 20_000, objectType?: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await pool.query<{ n: number }>(
      `select count(*)::int as n from hubsync.outbox where status in ('pending', 'in_flight') and ($1::text is null or object_type = $1)`,
      [objectType ?? null],
    );
    if (r.rows[0]!.n === 0) return;
    if (Date.now() > until) throw new Error(`outbox not drained: ${r.rows[0]!.n} rows waiting`);
    await new Promise((res) => setTimeout(res, 50));
  }
}
