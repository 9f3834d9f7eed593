import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareVersions, install } from "../src/core/db/install.ts";
import { freshDatabase, type TestDatabase } from "./support/database.ts";
import { runCli } from "./support/cli.ts";

const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase("install_version");
});
afterAll(async () => {
  await db?.drop();
});

async function recorded(): Promise<string[]> {
  const { rows } = await db.pool.query<{ version: string }>("select version from hubsync.installs order by installed_at");
  return rows.map((r) => r.version);
}

describe("hubsync install records its version and refuses to downgrade", () => {
  it("records the package's version at every install, and says it", async () => {
    const first = await runCli(["install"], { DATABASE_URL: db.url }, 60_000);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`hubsync install: hubsync ${VERSION}\n`);
    expect(await recorded()).toEqual([VERSION]);
  });

  it("upgrades a database installed by an older hubsync, saying from what", async () => {
    await db.pool.query("insert into hubsync.installs (version, installed_at) values ('0.0.1', now())");
    const r = await runCli(["install"], { DATABASE_URL: db.url }, 60_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`hubsync ${VERSION} (upgraded from 0.0.1)`);
    expect((await recorded()).at(-1)).toBe(VERSION);
  });

  it("refuses, in one line and without changing anything, a database a newer hubsync installed", async () => {
    await db.pool.query("insert into hubsync.installs (version, installed_at) values ('99.0.0', now() + interval '1 hour')");
    await db.pool.query("drop function hubsync.enable_sync"); // an install would put it back
    const r = await runCli(["install"], { DATABASE_URL: db.url }, 60_000);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      `hubsync install: this database was installed by hubsync 99.0.0, newer than this hubsync ${VERSION}; refusing to downgrade it (run hubsync 99.0.0 or newer)`,
    ]);
    await expect(install({ databaseUrl: db.url })).rejects.toThrow(/refusing to downgrade/);
    const { rows } = await db.pool.query("select to_regprocedure('hubsync.enable_sync(text,text[],boolean,timestamptz)') as f");
    expect(rows[0].f).toBeNull();
    expect((await recorded()).at(-1)).toBe("99.0.0");
  });

  it("orders versions as npm does", () => {
    expect(compareVersions("0.10.0", "0.9.9")).toBe(1);
    expect(compareVersions("1.0.0", "1.0.0-beta.2")).toBe(1);
    expect(compareVersions("1.0.0-beta.10", "1.0.0-beta.9")).toBe(1);
    expect(compareVersions("0.1.0", "0.1.0")).toBe(0);
    expect(compareVersions("0.1.0", "0.2.0")).toBe(-1);
  });
});
