import { z } from "zod";
import type { Command } from "../command.ts";
import { commandOptions } from "../options.ts";
import { readEnv, requireDatabaseUrl } from "../../core/config.ts";
import { install, WORKER_SCHEMA, type InstallReport } from "../../core/db/install.ts";

const Options = z.object({
  "after-migrations": z.boolean().default(false),
  "database-url": z.string().url({ message: "--database-url must be a postgres:// URL" }).optional(),
});

const USAGE = `usage: hubsync install [--database-url URL] [--after-migrations]

Installs or upgrades hubsync in the database: its migrations, graphile-worker's schema, the SQL API
(sql/*.sql) and the roles. Safe to run again; each run applies only what is missing.
  --database-url URL   the database to install into (default: DATABASE_URL)
  --after-migrations   skip the migrations (already applied by graphile-migrate) and apply the rest`;

export const command: Command = {
  async run(argv) {
    const parsed = commandOptions("install", argv, { "after-migrations": { type: "boolean" }, "database-url": { type: "string" } }, Options, USAGE);
    if ("exit" in parsed) return parsed.exit;
    const options = parsed.options;
    const databaseUrl = options["database-url"] ?? requireDatabaseUrl(readEnv());
    const report = await install({ databaseUrl, afterMigrations: options["after-migrations"] });
    process.stdout.write(formatReport(report, options["after-migrations"]));
    return 0;
  },
};

export function formatReport(r: InstallReport, afterMigrations: boolean): string {
  const lines: string[] = [];
  if (!afterMigrations) {
    if (r.applied.length > 0) {
      lines.push(`migrations: applied ${r.applied.length} (${r.applied.join(", ")})${r.upToDate ? `; ${r.upToDate} already applied` : ""}`);
    } else {
      lines.push(`migrations: already up to date (${r.upToDate + r.adopted.length} applied)`);
    }
    if (r.adopted.length > 0) lines.push(`migrations: recorded ${r.adopted.join(", ")} as applied earlier by graphile-migrate (same hash)`);
  }
  if (r.currentApplied) lines.push("migrations/current.sql: applied (uncommitted development migration)");
  lines.push(`worker schema ${WORKER_SCHEMA}: graphile-worker migration ${r.workerSchemaVersion ?? "?"}`);
  lines.push(`SQL API: applied ${r.sqlFiles.length} file(s)${r.sqlFiles.length ? ` (${r.sqlFiles.join(", ")})` : ""}`);
  if (r.version) {
    lines.push(r.previousVersion && r.previousVersion !== r.version ? `hubsync ${r.version} (upgraded from ${r.previousVersion})` : `hubsync ${r.version}`);
  }
  return lines.map((l) => `hubsync install: ${l}\n`).join("");
}
