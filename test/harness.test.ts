import { describe, it, expect, afterAll } from "vitest";
import { freshDatabase } from "./support/database.ts";

describe("test harness", () => {
  const dbs: Awaited<ReturnType<typeof freshDatabase>>[] = [];
  afterAll(async () => { for (const d of dbs) await d.drop(); });

  it("gives each caller its own empty database on a real PostgreSQL", async () => {
    const a = await freshDatabase("a");
    const b = await freshDatabase("b");
    dbs.push(a, b);
    await a.pool.query("create table marker (x int)");
    const { rows } = await b.pool.query("select count(*)::int as n from pg_tables where tablename = 'marker'");
    expect(rows[0].n).toBe(0);
    const v = await a.pool.query("select current_setting('server_version_num')::int as v");
    expect(v.rows[0].v).toBeGreaterThanOrEqual(140000);
  });
});
