import type { TestProject } from "vitest/node";
import { startLocalPostgres, type LocalPostgres } from "../../src/tools/shared/local-postgres.ts";

/**
 * One PostgreSQL server for the whole run: DATABASE_URL when given (a server the caller owns),
 * otherwise a throwaway one. HUBSYNC_TEST_POSTGRES=system|embedded picks the kind; CI runs both.
 * Each test file then makes its own database on it (test/support/database.ts).
 */
let server: LocalPostgres | null = null;

declare module "vitest" {
  export interface ProvidedContext {
    adminUrl: string;
  }
}

export async function setup(project: TestProject) {
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const kind = (process.env.HUBSYNC_TEST_POSTGRES ?? "auto") as "auto" | "system" | "embedded";
    server = await startLocalPostgres(kind);
    adminUrl = server.adminUrl;
    console.log(`test PostgreSQL: ${server.kind} ${server.version}`);
  }
  project.provide("adminUrl", adminUrl);
}

export async function teardown() {
  await server?.stop();
}
