import { randomBytes } from "node:crypto";
import pg from "pg";
import { createPool } from "../../core/db/pool.ts";
import { install } from "../../core/db/install.ts";
import { withDatabase } from "./local-postgres.ts";

export interface BenchDatabase {
  url: string;
  pool: pg.Pool;
  /** Closes the pool and drops the database (the server may be shared, as in tests). */
  close(): Promise<void>;
}

async function admin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A new database on the bench's server with hubsync installed (as `hubsync install` does it). */
export async function createBenchDatabase(adminUrl: string, label: string): Promise<BenchDatabase> {
  const name = `hubsync_bench_${label}_${randomBytes(3).toString("hex")}`;
  await admin(adminUrl, (c) => c.query(`create database ${name}`));
  const url = withDatabase(adminUrl, name);
  await install({ databaseUrl: url });
  const pool = createPool(url, { max: 4, applicationName: "hubsync bench" });
  return {
    url,
    pool,
    async close() {
      await pool.end();
      await admin(adminUrl, (c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}
