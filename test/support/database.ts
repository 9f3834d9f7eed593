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

/** A brand-new, empty database for one test file on the run's server (no hubsync in it). */
export function freshDatabase(label = "t"): Promise<TestDatabase> {
  return createDatabase(label, null);
}

/**
 * A new database with hubsync installed: a copy of the template database that the run's global
 * setup installed once with `hubsync install`'s code (test/support/global-setup.ts). Copying is a
 * file copy inside PostgreSQL, several times faster than running every migration and SQL file
 * again for each test file.
 */
export function installedDatabase(label = "t"): Promise<TestDatabase> {
  return createDatabase(label, inject("templateDatabase"));
}

async function createDatabase(label: string, template: string | null): Promise<TestDatabase> {
  const adminUrl = inject("adminUrl");
  const name = `hubsync_${label.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}${template ? ` template ${template}` : ""}`);
  } finally {
    await admin.end();
  }
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
