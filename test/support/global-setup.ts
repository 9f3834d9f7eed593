import pg from "pg";
import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { install } from "../../src/core/db/install.ts";
import { createLogger } from "../../src/core/log.ts";
import { startLocalPostgres, withDatabase, type LocalPostgres } from "../../src/tools/shared/local-postgres.ts";

/**
 * One PostgreSQL server for the whole run: DATABASE_URL when given (a server the caller owns),
 * otherwise a throwaway one. HUBSYNC_TEST_POSTGRES=system|embedded picks the kind; CI runs both.
 * Each test file then makes its own database on it (test/support/database.ts), empty or copied
 * from the template database installed here once.
 */
let server: LocalPostgres | null = null;
let adminUrl = "";
let template = "";

declare module "vitest" {
  export interface ProvidedContext {
    adminUrl: string;
    /** A database with hubsync installed, that test files copy (`create database … template …`). */
    templateDatabase: string;
  }
}

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

export async function setup(project: TestProject) {
  adminUrl = process.env.DATABASE_URL ?? "";
  if (!adminUrl) {
    const kind = (process.env.HUBSYNC_TEST_POSTGRES ?? "auto") as "auto" | "system" | "embedded";
    server = await startLocalPostgres(kind);
    adminUrl = server.adminUrl;
  }
  template = `hubsync_template_${randomBytes(4).toString("hex")}`;
  await admin(`create database ${template}`);
  await install({ databaseUrl: withDatabase(adminUrl, template), log: createLogger({ level: "silent" }) });
  project.provide("adminUrl", adminUrl);
  project.provide("templateDatabase", template);
}

export async function teardown() {
  if (template && !server) await admin(`drop database if exists ${template} with (force)`).catch(() => {});
  await server?.stop();
}
