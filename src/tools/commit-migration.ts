import { execFile } from "node:child_process";
import { readFile, writeFile, readdir, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { startLocalPostgres, withDatabase, type LocalPostgres } from "./shared/local-postgres.ts";
import { install, readCurrentMigration } from "../core/db/install.ts";

const exec = promisify(execFile);

/** The instructions at the top of migrations/current.sql; kept there, never committed. */
export const CURRENT_SQL_HEADER = `-- Development migration (graphile-migrate's current.sql). \`hubsync install\` applies it after the
-- committed migrations, so everything here must be idempotent (create table if not exists,
-- add column if not exists, ...). Each area keeps its own section headed \`-- == <AREA> ==\`;
-- the lead commits this file into migrations/committed/ at the end.
`;

export interface CommitOptions {
  /** Repository root: holds .gmrc, migrations/, sql/, src/ (the afterAllMigrations action runs hubsync). */
  root: string;
  message: string;
  /** A server to make throwaway databases on (superuser URL); default: start a local one. */
  adminUrl?: string;
}

export interface CommitResult {
  file: string;
  hash: string;
}

/**
 * Folds migrations/current.sql into the next committed migration with graphile-migrate's own
 * `commit` (run as its CLI with the repository's .gmrc), on throwaway databases: it resets a shadow
 * database, runs every committed migration plus the new one there and on a main database, and only
 * then writes the file and blanks current.sql. Afterwards `hubsync install` must install the result
 * into a fresh database, or everything is put back as it was.
 */
export async function commitCurrentMigration(options: CommitOptions): Promise<CommitResult> {
  const migrations = join(options.root, "migrations");
  const currentPath = join(migrations, "current.sql");
  const original = await readFile(currentPath, "utf8");
  const body = stripHeader(original);
  if ((await readCurrentMigration(migrations)) === null) throw new Error("commit-migration: migrations/current.sql has nothing to commit");
  if (/[\r\n]/.test(options.message) || !options.message.trim()) throw new Error("commit-migration: give a one-line --message");

  let server: LocalPostgres | null = null;
  const adminUrl = options.adminUrl ?? (server = await startLocalPostgres("auto")).adminUrl;
  const suffix = `${process.pid}_${Date.now()}`;
  const names = { main: `gm_main_${suffix}`, shadow: `gm_shadow_${suffix}`, verify: `gm_verify_${suffix}` };
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const before = new Set(await readdir(join(migrations, "committed")));
  try {
    for (const db of [names.main, names.verify]) await admin.query(`create database ${db}`);
    // graphile-migrate commits the body of current.sql as it is: the instructions stay out.
    await writeFile(currentPath, body);
    try {
      await exec(process.execPath, [join(options.root, "node_modules/graphile-migrate/dist/cli.js"), "commit", "--message", options.message], {
        cwd: options.root,
        env: {
          ...process.env,
          PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}`,
          DATABASE_URL: withDatabase(adminUrl, names.main),
          SHADOW_DATABASE_URL: withDatabase(adminUrl, names.shadow),
          ROOT_DATABASE_URL: adminUrl,
        },
      });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`commit-migration: graphile-migrate commit failed:\n${e.stderr || e.stdout || e.message}`);
    }
    const created = (await readdir(join(migrations, "committed"))).filter((f) => !before.has(f));
    if (created.length !== 1) throw new Error(`commit-migration: expected one new committed migration, found ${created.join(", ") || "none"}`);
    const file = created[0] as string;
    await writeFile(currentPath, CURRENT_SQL_HEADER);
    const report = await install({ databaseUrl: withDatabase(adminUrl, names.verify), migrationsDir: migrations, sqlDir: join(options.root, "sql") });
    if (!report.applied.includes(file)) throw new Error(`commit-migration: hubsync install did not apply ${file}`);
    const hash = /^--! Hash: (.*)$/m.exec(await readFile(join(migrations, "committed", file), "utf8"))?.[1] ?? "";
    return { file, hash };
  } catch (err) {
    // Put everything back: no half-committed migration, current.sql as it was.
    for (const f of await readdir(join(migrations, "committed"))) {
      if (!before.has(f)) await unlink(join(migrations, "committed", f));
    }
    await writeFile(currentPath, original);
    throw err;
  } finally {
    for (const db of Object.values(names)) await admin.query(`drop database if exists ${db} with (force)`).catch(() => {});
    await admin.end();
    await server?.stop();
  }
}

function stripHeader(text: string): string {
  return text.startsWith(CURRENT_SQL_HEADER) ? text.slice(CURRENT_SQL_HEADER.length).replace(/^\n+/, "") : text;
}
