import { describe, it, expect, afterAll, inject } from "vitest";
import { cp, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshDatabase, type TestDatabase } from "./support/database.ts";
import { commitCurrentMigration, CURRENT_SQL_HEADER } from "../src/tools/commit-migration.ts";
import { install } from "../src/core/db/install.ts";
import { calculateHash, readCommittedMigrations } from "../src/core/db/committed-migrations.ts";
import { DEFAULT_MIGRATIONS_DIR } from "../src/core/db/install.ts";

// Folding migrations/current.sql into a committed migration (scripts/commit-migration.ts), on a copy of the repository.
const ROOT = new URL("../", import.meta.url).pathname;
const BEFORE = (await readCommittedMigrations(DEFAULT_MIGRATIONS_DIR)).map((m) => m.realFilename);
const NEXT = `${String(BEFORE.length + 1).padStart(6, "0")}-fold-test.sql`;
const tmps: string[] = [];
const dbs: TestDatabase[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop();
  for (const t of tmps) await rm(t, { recursive: true, force: true });
});

async function copyOfRepository(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "hubsync-fold-"));
  tmps.push(dir);
  for (const p of [".gmrc", "package.json", "migrations", "sql", "src"]) await cp(join(ROOT, p), join(dir, p), { recursive: true });
  await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

describe("folding current.sql into a committed migration", () => {
  it("uses graphile-migrate's commit; the new file chains to the last one and hubsync install applies it", async () => {
    const root = await copyOfRepository();
    const current = await readFile(join(root, "migrations/current.sql"), "utf8");
    await writeFile(join(root, "migrations/current.sql"), `${current}\n-- == TEST ==\ncreate table if not exists hubsync.fold_test (x int);\n`);

    const { file, hash } = await commitCurrentMigration({ root, message: "fold test", adminUrl: inject("adminUrl") });
    expect(file).toBe(NEXT);
    const committed = await readCommittedMigrations(join(root, "migrations"));
    expect(committed.map((m) => m.realFilename)).toEqual([...BEFORE, NEXT]);
    const [previous, added] = committed.slice(-2) as [typeof committed[0], typeof committed[0]];
    expect(added.previousHash).toBe(previous.hash);
    expect(calculateHash(added.body, previous.hash)).toBe(hash);
    expect(added.body).not.toContain("Development migration");
    expect(added.body).toContain("create table if not exists hubsync.fold_test");
    expect(await readFile(join(root, "migrations/current.sql"), "utf8")).toBe(CURRENT_SQL_HEADER);

    const d = await freshDatabase("fold");
    dbs.push(d);
    const report = await install({ databaseUrl: d.url, migrationsDir: join(root, "migrations"), sqlDir: join(root, "sql") });
    expect(report.applied).toEqual([...BEFORE, NEXT]);
    expect(report.currentApplied).toBe(false);
    const { rows } = await d.pool.query("select to_regclass('hubsync.fold_test') is not null as ok");
    expect(rows[0].ok).toBe(true);
  });

  it("puts everything back when the migration does not run", async () => {
    const root = await copyOfRepository();
    const broken = `${await readFile(join(root, "migrations/current.sql"), "utf8")}\n-- == TEST ==\ncreate tabel oops (x int);\n`;
    await writeFile(join(root, "migrations/current.sql"), broken);
    await expect(commitCurrentMigration({ root, message: "broken", adminUrl: inject("adminUrl") })).rejects.toThrow(/graphile-migrate commit failed/);
    expect((await readdir(join(root, "migrations/committed"))).sort()).toEqual(BEFORE);
    expect(await readFile(join(root, "migrations/current.sql"), "utf8")).toBe(broken);
  });
});
