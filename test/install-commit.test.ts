import { describe, it, expect, afterAll, inject } from "vitest";
import { cp, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshDatabase, type TestDatabase } from "./support/database.ts";
import { commitCurrentMigration, CURRENT_SQL_HEADER } from "../src/db/commit-migration.ts";
import { install } from "../src/db/install.ts";
import { calculateHash, readCommittedMigrations } from "../src/db/committed-migrations.ts";

// The lead's end-of-session fold (scripts/commit-migration.ts), on a copy of the repository.
const ROOT = new URL("../", import.meta.url).pathname;
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
  it("uses graphile-migrate's commit; the new file chains to 000001 and hubsync install applies it", async () => {
    const root = await copyOfRepository();
    const current = await readFile(join(root, "migrations/current.sql"), "utf8");
    await writeFile(join(root, "migrations/current.sql"), `${current}\n-- == TEST ==\ncreate table if not exists hubsync.fold_test (x int);\n`);

    const { file, hash } = await commitCurrentMigration({ root, message: "fold test", adminUrl: inject("adminUrl") });
    expect(file).toBe("000002-fold-test.sql");
    const committed = await readCommittedMigrations(join(root, "migrations"));
    expect(committed.map((m) => m.realFilename)).toEqual(["000001-control-schema.sql", "000002-fold-test.sql"]);
    expect(committed[1]!.previousHash).toBe(committed[0]!.hash);
    expect(calculateHash(committed[1]!.body, committed[0]!.hash)).toBe(hash);
    expect(committed[1]!.body).not.toContain("Development migration");
    expect(committed[1]!.body).toContain("create table if not exists hubsync.fold_test");
    expect(await readFile(join(root, "migrations/current.sql"), "utf8")).toBe(CURRENT_SQL_HEADER);

    const d = await freshDatabase("fold");
    dbs.push(d);
    const report = await install({ databaseUrl: d.url, migrationsDir: join(root, "migrations"), sqlDir: join(root, "sql") });
    expect(report.applied).toEqual(["000001-control-schema.sql", "000002-fold-test.sql"]);
    expect(report.currentApplied).toBe(false);
    const { rows } = await d.pool.query("select to_regclass('hubsync.fold_test') is not null as ok");
    expect(rows[0].ok).toBe(true);
  });

  it("puts everything back when the migration does not run", async () => {
    const root = await copyOfRepository();
    const broken = `${await readFile(join(root, "migrations/current.sql"), "utf8")}\n-- == TEST ==\ncreate tabel oops (x int);\n`;
    await writeFile(join(root, "migrations/current.sql"), broken);
    await expect(commitCurrentMigration({ root, message: "broken", adminUrl: inject("adminUrl") })).rejects.toThrow(/graphile-migrate commit failed/);
    expect(await readdir(join(root, "migrations/committed"))).toEqual(["000001-control-schema.sql"]);
    expect(await readFile(join(root, "migrations/current.sql"), "utf8")).toBe(broken);
  });
});
