import { inject } from "vitest";
import pg from "pg";
import { randomBytes } from "node:crypto";
import { withDatabase } from "../../src/tools/shared/local-postgres.ts";

export interface TestDatabase {
  url: string;
  name: string;
  /** A small pool for the test's own queries. */
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** A brand-new, empty database for one test file on the run's server. */
export async function freshDatabase(label = "t"): Promise<TestDatabase> {
  const adminUrl = inject("adminUrl");
  const name = `hubsync_${label.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = withDatabase(adminUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 5 });
  pool.on("error", () => {});
  return {
    url,
    name,
    pool,
    async drop() {
      await pool.end();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
