import pg from "pg";
import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { install } from "../../src/core/db/install.ts";
import { createLogger } from "../../src/core/log.ts";
import { startLocalPostgres, withDatabase, type LocalPostgresKind } from "../../src/tools/shared/local-postgres.ts";

/**
 * One PostgreSQL server per project of the run (vitest.config.ts): DATABASE_URL when given (a server
 * the caller owns), otherwise a throwaway one of the project's kind. Each test file then makes its
 * own database on it (test/support/database.ts), empty or copied from the template database
 * installed here once.
 */

declare module "vitest" {
  export interface ProvidedContext {
    adminUrl: string;
    /** A database with hubsync installed, that test files copy (`create database … template …`). */
    templateDatabase: string;
  }
}

async function admin(adminUrl: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.DATABASE_URL;
  const kind = (project.config.env?.HUBSYNC_TEST_POSTGRES ?? "auto") as LocalPostgresKind | "auto";
  const server = given ? null : await startLocalPostgres(kind);
  const adminUrl = given ?? server!.adminUrl;
  const template = `hubsync_template_${randomBytes(4).toString("hex")}`;
  try {
    await admin(adminUrl, `create database ${template}`);
    await install({ databaseUrl: withDatabase(adminUrl, template), log: createLogger({ level: "silent" }) });
  } catch (err) {
    await server?.stop();
    throw err;
  }
  project.provide("adminUrl", adminUrl);
  project.provide("templateDatabase", template);
  return async () => {
    if (server) await server.stop();
    else await admin(adminUrl, `drop database if exists ${template} with (force)`).catch(() => {});
  };
}
