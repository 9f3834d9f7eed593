import { describe, it, expect, afterAll } from "vitest";
import { cp, mkdtemp, readFile, writeFile, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";
import { runMigrations, Logger as WorkerLogger } from "graphile-worker";
import { migrate as graphileMigrate, Logger as MigrateLogger } from "graphile-migrate";
import { freshDatabase, type TestDatabase } from "./support/database.ts";
import { install, readCurrentMigration, DEFAULT_MIGRATIONS_DIR } from "../src/core/db/install.ts";
import { calculateHash, parseMigrationText, readCommittedMigrations } from "../src/core/db/committed-migrations.ts";

const exec = promisify(execFile);
const ROOT = new URL("../", import.meta.url).pathname;
const CONTROL_TABLES = ["columns", "cursors", "merges", "migrations", "objects", "outbox", "runs"];
const silent = () => () => {};
// Whatever hubsync's committed migrations are now (000001, and more once current.sql is folded).
const COMMITTED = await readCommittedMigrations(DEFAULT_MIGRATIONS_DIR);
const FILES = COMMITTED.map((m) => m.realFilename);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const dbs: TestDatabase[] = [];
const tmps: string[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop();
  for (const t of tmps) await rm(t, { recursive: true, force: true });
});

async function db(label: string) {
  const d = await freshDatabase(label);
  dbs.push(d);
  return d;
}

async function tablesIn(pool: pg.Pool, schema: string): Promise<string[]> {
  const { rows } = await pool.query("select tablename from pg_tables where schemaname = $1 order by 1", [schema]);
  return rows.map((r) => r.tablename);
}

describe("hubsync install", () => {
  it("installs into an empty database, and says so; a second run changes nothing", async () => {
    const d = await db("fresh");
    const first = await exec("node", ["src/cli/hubsync.ts", "install"], { cwd: ROOT, env: { ...process.env, DATABASE_URL: d.url } });
    expect(first.stdout).toContain(`migrations: applied ${FILES.length} (${FILES.join(", ")})`);
    expect(first.stdout).toMatch(/worker schema hubsync_worker: graphile-worker migration \d+/);
    expect(first.stdout).toMatch(/SQL API: applied \d+ file\(s\) \(05_jobs\.sql, 10_api\.sql, 20_status\.sql/);

    expect(await tablesIn(d.pool, "hubsync")).toEqual(expect.arrayContaining(CONTROL_TABLES));
    const { rows: schemas } = await d.pool.query("select nspname from pg_namespace where nspname in ('hubsync','hubspot','hubsync_worker','graphile_worker','graphile_migrate') order by 1");
    expect(schemas.map((r) => r.nspname)).toEqual(["hubspot", "hubsync", "hubsync_worker"]);
    const { rows: roles } = await d.pool.query("select rolname from pg_roles where rolname in ('hubsync_admin','hubspot_reader','hubspot_writer') order by 1");
    expect(roles.map((r) => r.rolname)).toEqual(["hubspot_reader", "hubspot_writer", "hubsync_admin"]);

    const before = await d.pool.query("select filename, hash, applied_at from hubsync.migrations");
    const second = await exec("node", ["src/cli/hubsync.ts", "install"], { cwd: ROOT, env: { ...process.env, DATABASE_URL: d.url } });
    expect(second.stdout).toContain(`migrations: already up to date (${FILES.length} applied)`);
    const after = await d.pool.query("select filename, hash, applied_at from hubsync.migrations");
    expect(after.rows).toEqual(before.rows);
  });

  it("is not fooled by the database's own graphile_migrate history or its own graphile_worker", async () => {
    const d = await db("theirs");
    // The user's own graphile-migrate project, already at migration 000003 …
    const theirs = await mkdtemp(join(tmpdir(), "gm-theirs-"));
    tmps.push(theirs);
    await mkdir(join(theirs, "committed"));
    let previous: string | null = null;
    for (const n of ["000001", "000002", "000003"]) {
      const body = `create table if not exists public.app_${n} (id int);\n`;
      const hash = calculateHash(body, previous);
      await writeFile(join(theirs, "committed", `${n}.sql`), `--! Previous: ${previous ?? "-"}\n--! Hash: ${hash}\n\n${body}`);
      previous = hash;
    }
    await graphileMigrate({ connectionString: d.url, migrationsFolder: theirs, logger: new MigrateLogger(silent) });
    // … and its own graphile_worker with a queued job.
    await runMigrations({ connectionString: d.url, logger: new WorkerLogger(silent) });
    await d.pool.query("select graphile_worker.add_job('their_task', '{}'::json)");
    const theirWorkerVersion = (await d.pool.query("select max(id) as v from graphile_worker.migrations")).rows[0].v;

    const report = await install({ databaseUrl: d.url });
    expect(report.applied).toEqual(FILES);
    expect(await tablesIn(d.pool, "hubsync")).toEqual(expect.arrayContaining(CONTROL_TABLES));
    // Their history and their worker are exactly as they were.
    const gm = await d.pool.query("select filename from graphile_migrate.migrations order by filename");
    expect(gm.rows.map((r) => r.filename)).toEqual(["000001.sql", "000002.sql", "000003.sql"]);
    const jobs = await d.pool.query("select task_identifier from graphile_worker.jobs");
    expect(jobs.rows).toEqual([{ task_identifier: "their_task" }]);
    expect((await d.pool.query("select max(id) as v from graphile_worker.migrations")).rows[0].v).toBe(theirWorkerVersion);
    // Ours is separate.
    const ours = await d.pool.query("select count(*)::int as n from hubsync_worker.jobs");
    expect(ours.rows[0].n).toBe(0);
  });

  it("graphile-migrate's own CLI accepts the committed migration and produces the same schema; install then adopts it", async () => {
    const d = await db("gmcli");
    const { stderr } = await exec("npx", ["graphile-migrate", "migrate"], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: d.url, ROOT_DATABASE_URL: d.url.replace(/\/[^/]+$/, "/postgres") },
    });
    expect(stderr).not.toMatch(/error/i);
    const gm = await d.pool.query("select filename from graphile_migrate.migrations");
    expect(gm.rows.map((r) => r.filename)).toEqual(COMMITTED.map((m) => m.filename));
    // afterAllMigrations installed the worker schema and the SQL API.
    const fn = await d.pool.query("select to_regprocedure('hubsync.enable_sync(text,text[],boolean,timestamptz)') is not null as ok, to_regclass('hubsync_worker.jobs') is not null as worker");
    expect(fn.rows[0]).toEqual({ ok: true, worker: true });

    const report = await install({ databaseUrl: d.url });
    expect(report.applied).toEqual([]);
    expect(report.adopted).toEqual(FILES);
    const again = await install({ databaseUrl: d.url });
    expect(again.adopted).toEqual([]);
    expect(again.upToDate).toBe(FILES.length);
  }, 60_000);

  it("refuses a committed migration edited after it was committed, or after it was applied", async () => {
    const d = await db("tamper");
    await install({ databaseUrl: d.url });
    const dir = await mkdtemp(join(tmpdir(), "hubsync-migrations-"));
    tmps.push(dir);
    await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    const last = COMMITTED[COMMITTED.length - 1]!;
    const file = join(dir, "committed", last.realFilename);
    const original = await readFile(file, "utf8");
    const edited = `${original.trimEnd()}\ncreate table hubsync.tampered (x int);\n`;

    // Edited body, header left alone.
    await writeFile(file, edited);
    await expect(install({ databaseUrl: d.url, migrationsDir: dir })).rejects.toThrow(
      new RegExp(`${escape(last.realFilename)} was edited after it was committed`),
    );

    // Edited and re-hashed: the file is self-consistent but differs from what the database ran.
    const { body } = parseMigrationText(file, edited);
    await writeFile(file, edited.replace(/^--! Hash: .*$/m, `--! Hash: ${calculateHash(body, last.previousHash)}`));
    await expect(install({ databaseUrl: d.url, migrationsDir: dir })).rejects.toThrow(/was applied to this database with hash sha1:[0-9a-f]+, but the file now has hash/);
    // Nothing changed.
    const { rows } = await d.pool.query("select to_regclass('hubsync.tampered') is null as untouched");
    expect(rows[0].untouched).toBe(true);
  });

  it("two installs at once both succeed and apply the migration once", async () => {
    const d = await db("race");
    const [a, b] = await Promise.all([install({ databaseUrl: d.url }), install({ databaseUrl: d.url })]);
    expect([...a.applied, ...b.applied]).toEqual(FILES);
    const { rows } = await d.pool.query("select count(*)::int as n from hubsync.migrations");
    expect(rows[0].n).toBe(FILES.length);
  });

  it("applies a non-empty current.sql after the committed migrations", async () => {
    const d = await db("current");
    const dir = await mkdtemp(join(tmpdir(), "hubsync-migrations-"));
    tmps.push(dir);
    await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    const current = await readFile(join(dir, "current.sql"), "utf8");
    await writeFile(join(dir, "current.sql"), `${current}\n-- == TEST ==\ncreate table if not exists hubsync.test_current (x int);\n`);
    const report = await install({ databaseUrl: d.url, migrationsDir: dir });
    expect(report.currentApplied).toBe(true);
    expect(await tablesIn(d.pool, "hubsync")).toContain("test_current");
    // Idempotent: applied again on every install.
    expect((await install({ databaseUrl: d.url, migrationsDir: dir })).currentApplied).toBe(true);
    // graphile-migrate's blank current.sql (comments only) counts as empty.
    await writeFile(join(dir, "current.sql"), "-- Enter migration here\n\n  \n");
    expect(await readCurrentMigration(dir)).toBeNull();
  });

  it("creates roles that work: readers read hubspot.*, including tables created later, and nothing else", async () => {
    const d = await db("roles");
    await install({ databaseUrl: d.url });
    // Installing into a second database on the same server must not trip over the existing roles.
    const d2 = await db("roles2");
    await install({ databaseUrl: d2.url });

    await d.pool.query("create table hubspot.contacts (id text unique, email text)");
    await d.pool.query("insert into hubspot.contacts values ('1', 'a@example.com')");
    const analyst = `analyst_${d.name}`;
    await d.pool.query(`create role ${analyst} login password 'pw' in role hubspot_reader`);
    try {
      const url = new URL(d.url);
      url.username = analyst;
      url.password = "pw";
      const c = new pg.Client({ connectionString: url.toString() });
      await c.connect();
      try {
        const { rows } = await c.query("select email from hubspot.contacts");
        expect(rows).toEqual([{ email: "a@example.com" }]);
        await expect(c.query("insert into hubspot.contacts values ('2', 'b@example.com')")).rejects.toThrow(/permission denied/);
        await expect(c.query("select * from hubsync.objects")).rejects.toThrow(/permission denied/);
        await expect(c.query("select hubsync.enable_sync('contacts')")).rejects.toThrow(/permission denied/);
      } finally {
        await c.end();
      }
    } finally {
      await d.pool.query(`drop owned by ${analyst}; drop role ${analyst}`);
    }
  });

  it("installs as a non-superuser that owns the database, also when another database already created the roles", async () => {
    const installer = `installer_${Date.now()}`;
    const [a, b] = [await db("owner_a"), await db("owner_b")];
    await a.pool.query(`create role ${installer} login createrole password 'pw'`);
    const asInstaller = (url: string) => {
      const u = new URL(url);
      u.username = installer;
      u.password = "pw";
      return u.toString();
    };
    try {
      for (const d of [a, b]) {
        await d.pool.query(`alter database ${d.name} owner to ${installer}`);
        const report = await install({ databaseUrl: asInstaller(d.url) });
        expect(report.applied).toEqual(FILES);
      }
      const { rows } = await b.pool.query("select hubsync.enable_sync('contacts') as msg");
      expect(rows[0].msg).toBe("contacts: enabled; discovery queued");
    } finally {
      for (const d of [a, b]) await d.pool.query(`reassign owned by ${installer} to current_user; drop owned by ${installer}`);
      await a.pool.query(`drop role ${installer}`);
    }
  });
});
