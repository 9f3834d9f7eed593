import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type pg from "pg";
import { runMigrations } from "graphile-worker";
import { createPool } from "./pool.ts";
import { readCommittedMigrations, type CommittedMigration } from "./committed-migrations.ts";
import { graphileLogger } from "../worker/logger.ts";
import { log as rootLog, type Logger } from "../log.ts";

/**
 * `hubsync install`: brings a database to this version of hubsync, idempotently.
 *
 * 1. committed migrations (migrations/committed, graphile-migrate's format and hashes) — each one
 *    not yet recorded in hubsync.migrations, in order. The bookkeeping is hubsync's own: a database
 *    that uses graphile-migrate for itself keeps its graphile_migrate history untouched, and that
 *    history can never make us skip a file (graphile-migrate only runs files whose names sort after
 *    the last row of its history). A migration applied with another hash is refused.
 * 2. migrations/current.sql when it has content (the development workflow; idempotent DDL).
 * 3. graphile-worker's schema, in hubsync_worker (a user's own graphile_worker is left alone).
 * 4. the SQL API, sql/*.sql in file-name order, re-applied every time (create or replace).
 *
 * The worker schema comes before the SQL API so that API files may refer to hubsync_worker
 * (e.g. add_job in a SQL-language function, which is checked when created).
 * One session advisory lock serialises concurrent installs into the same database.
 */

export const WORKER_SCHEMA = "hubsync_worker";
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const DEFAULT_MIGRATIONS_DIR = join(REPO_ROOT, "migrations");
export const DEFAULT_SQL_DIR = join(REPO_ROOT, "sql");
// hashtextextended('hubsync install', 0) would do as well; a literal keeps it greppable in pg_locks.
const INSTALL_LOCK_KEY = 4_871_302_228_013_555_001n;

export interface InstallOptions {
  databaseUrl: string;
  migrationsDir?: string;
  sqlDir?: string;
  /**
   * Skip the committed migrations, do everything after them (current.sql, worker schema, SQL API):
   * what graphile-migrate's afterAllMigrations / afterCurrent actions call (.gmrc).
   */
  afterMigrations?: boolean;
  log?: Logger;
}

export interface InstallReport {
  /** Committed migrations run now (real file names). */
  applied: string[];
  /** Committed migrations found already applied by graphile-migrate's CLI (same hash) and recorded as ours. */
  adopted: string[];
  /** Committed migrations that were already recorded in hubsync.migrations. */
  upToDate: number;
  /** Whether migrations/current.sql had content and was applied. */
  currentApplied: boolean;
  sqlFiles: string[];
  workerSchemaVersion: number | null;
}

const BOOKKEEPING_SQL = `
  create schema if not exists hubsync;
  create table if not exists hubsync.migrations (
    filename text primary key,          -- graphile-migrate's key: '000001.sql'
    real_filename text not null,        -- '000001-control-schema.sql'
    hash text not null,                 -- graphile-migrate's sha1 of the body, chained to the previous one
    applied_at timestamptz not null default now(),
    applied_by text not null default 'hubsync install'
  );
  comment on table hubsync.migrations is 'hubsync''s committed migrations applied to this database (independent of graphile_migrate.*)';
`;

export async function install(options: InstallOptions): Promise<InstallReport> {
  const log = (options.log ?? rootLog).child({ component: "install" });
  const migrationsDir = options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR;
  const sqlDir = options.sqlDir ?? DEFAULT_SQL_DIR;
  // Read and verify every file before touching the database: a bad file changes nothing.
  const committed = options.afterMigrations ? [] : await readCommittedMigrations(migrationsDir);
  const current = await readCurrentMigration(migrationsDir);
  const sqlFiles = await readSqlFiles(sqlDir);

  const pool = createPool(options.databaseUrl, { max: 2, applicationName: "hubsync install" });
  const report: InstallReport = { applied: [], adopted: [], upToDate: 0, currentApplied: false, sqlFiles: [], workerSchemaVersion: null };
  try {
    const client = await pool.connect();
    try {
      await client.query("select pg_advisory_lock($1)", [INSTALL_LOCK_KEY.toString()]);
      try {
        if (!options.afterMigrations) {
          await client.query(BOOKKEEPING_SQL);
          await applyCommitted(client, committed, report, log);
        }
        if (current !== null) {
          log.warn("applying migrations/current.sql: uncommitted development migration");
          await runInTransaction(client, [{ label: "migrations/current.sql", sql: current }]);
          report.currentApplied = true;
        }
        await runMigrations({ pgPool: pool, schema: WORKER_SCHEMA, logger: graphileLogger(log) });
        report.workerSchemaVersion = await workerSchemaVersion(client);
        // One transaction for the whole API: a failing file leaves the previous API in place.
        await runInTransaction(client, sqlFiles.map((f) => ({ label: `sql/${f.name}`, sql: f.sql })));
        report.sqlFiles = sqlFiles.map((f) => f.name);
      } finally {
        await client.query("select pg_advisory_unlock($1)", [INSTALL_LOCK_KEY.toString()]).catch(() => {});
      }
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
  log.debug(report, "install finished");
  return report;
}

async function applyCommitted(client: pg.PoolClient, committed: CommittedMigration[], report: InstallReport, log: Logger) {
  const { rows: recorded } = await client.query<{ filename: string; real_filename: string; hash: string }>(
    "select filename, real_filename, hash from hubsync.migrations order by filename",
  );
  const byName = new Map(committed.map((m) => [m.filename, m]));
  for (const row of recorded) {
    const file = byName.get(row.filename);
    if (!file) {
      throw new Error(
        `hubsync install: this database has hubsync migration ${row.real_filename}, which this copy of hubsync does not have. ` +
          `It was installed by a newer hubsync: upgrade hubsync rather than installing an older one.`,
      );
    }
    if (file.hash !== row.hash) {
      throw new Error(
        `hubsync install: migration ${file.realFilename} was applied to this database with hash ${row.hash}, ` +
          `but the file now has hash ${file.hash}: it was edited after being applied. Committed migrations never change; ` +
          `restore the original file and put the change in a new migration.`,
      );
    }
  }
  const done = new Set(recorded.map((r) => r.filename));
  report.upToDate = done.size;
  const adoptable = await graphileMigrateHashes(client);
  for (const m of committed) {
    if (done.has(m.filename)) continue;
    if (adoptable.has(m.hash)) {
      // A developer ran this very file (same hash, same chain) with graphile-migrate's CLI.
      await client.query(
        "insert into hubsync.migrations (filename, real_filename, hash, applied_by) values ($1, $2, $3, 'graphile-migrate')",
        [m.filename, m.realFilename, m.hash],
      );
      report.adopted.push(m.realFilename);
      continue;
    }
    log.info({ migration: m.realFilename }, "applying migration");
    const record = {
      text: "insert into hubsync.migrations (filename, real_filename, hash) values ($1, $2, $3)",
      values: [m.filename, m.realFilename, m.hash],
    };
    if (m.transaction) {
      await runInTransaction(client, [{ label: `migrations/committed/${m.realFilename}`, sql: m.body }], record);
    } else {
      await runStatement(client, `migrations/committed/${m.realFilename}`, m.body);
      await client.query(record);
    }
    report.applied.push(m.realFilename);
  }
}

/** Hashes in the database's graphile_migrate history, if it has one (never written to). */
async function graphileMigrateHashes(client: pg.PoolClient): Promise<Set<string>> {
  const { rows } = await client.query<{ present: boolean }>("select to_regclass('graphile_migrate.migrations') is not null as present");
  if (!rows[0]?.present) return new Set();
  const { rows: hashes } = await client.query<{ hash: string }>("select hash from graphile_migrate.migrations");
  return new Set(hashes.map((h) => h.hash));
}

/** Runs the steps one by one (so an error names its file) inside a single transaction. */
async function runInTransaction(client: pg.PoolClient, steps: { label: string; sql: string }[], after?: pg.QueryConfig): Promise<void> {
  await client.query("begin");
  try {
    for (const step of steps) await runStatement(client, step.label, step.sql);
    if (after) await client.query(after);
    await client.query("commit");
  } catch (err) {
    await client.query("rollback").catch(() => {});
    throw err;
  }
}

async function runStatement(client: pg.PoolClient, label: string, sql: string): Promise<void> {
  try {
    await client.query(sql);
  } catch (err) {
    const e = err as pg.DatabaseError;
    const where = e.position ? ` (at line ${lineOf(sql, Number(e.position))})` : "";
    const hint = e.hint ? `\nhint: ${e.hint}` : "";
    throw new Error(`hubsync install: ${label} failed${where}: ${e.message}${hint}`);
  }
}

function lineOf(text: string, position: number): number {
  return text.slice(0, position).split("\n").length;
}

async function workerSchemaVersion(client: pg.PoolClient): Promise<number | null> {
  const { rows } = await client.query<{ version: number | null }>(`select max(id)::int as version from ${WORKER_SCHEMA}.migrations`);
  return rows[0]?.version ?? null;
}

/** current.sql's content, or null when it holds nothing but comments and blank lines. */
export async function readCurrentMigration(migrationsDir: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(join(migrationsDir, "current.sql"), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const meaningful = text.split("\n").some((line) => {
    const t = line.trim();
    return t !== "" && !t.startsWith("--");
  });
  return meaningful ? text : null;
}

interface SqlFile {
  name: string;
  sql: string;
}

async function readSqlFiles(sqlDir: string): Promise<SqlFile[]> {
  const names = (await readdir(sqlDir)).filter((n) => n.endsWith(".sql")).sort();
  return Promise.all(names.map(async (name) => ({ name, sql: await readFile(join(sqlDir, name), "utf8") })));
}
