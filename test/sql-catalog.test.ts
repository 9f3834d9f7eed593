import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { freshDatabase, type TestDatabase } from "./support/database.ts";
import { install } from "../src/core/db/install.ts";
import { createLogger } from "../src/core/log.ts";

/**
 * `\df+ hubsync.*` and `\dv+ hubsync.*` explain themselves: every function, view and table of
 * schema hubsync that a DBA or the worker calls by name carries a COMMENT ON.
 *
 * The rule: a name starting with an underscore (hubsync._tg_outbox, hubsync._row_count, ...) is an
 * internal helper (a trigger function, or a helper that hubsync's own functions and the worker call),
 * explained by the `--` comment beside its definition in sql/; every other name is public and needs
 * a description in the catalog.
 */

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase("sql_catalog");
  await install({ databaseUrl: db.url, log: createLogger({ level: "silent" }) });
});
afterAll(async () => {
  await db?.drop();
});

/** Public objects of schema hubsync as "kind name", with whether they have a non-empty comment. */
const PUBLIC_OBJECTS = `
  select kind || ' ' || name as object, coalesce(btrim(description), '') <> '' as described
    from (select 'function' as kind, p.oid::regprocedure::text as name, p.proname::text as bare,
                 pg_catalog.obj_description(p.oid, 'pg_proc') as description
            from pg_catalog.pg_proc p
           where p.pronamespace = 'hubsync'::regnamespace
          union all
          select case c.relkind when 'v' then 'view' when 'm' then 'materialized view' else 'table' end,
                 c.oid::regclass::text, c.relname::text, pg_catalog.obj_description(c.oid, 'pg_class')
            from pg_catalog.pg_class c
           where c.relnamespace = 'hubsync'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')) x
   where x.bare !~ '^_'
   order by 1`;

describe("the hubsync catalog", () => {
  it("describes every public function, view and table (names starting with _ are internal)", async () => {
    const { rows } = await db.pool.query<{ object: string; described: boolean }>(PUBLIC_OBJECTS);
    // The check covers what a DBA meets first, so it cannot pass by looking at nothing.
    expect(rows.map((r) => r.object)).toEqual(
      expect.arrayContaining([
        "function hubsync.enable_sync(text,text[],boolean,timestamp with time zone)",
        "function hubsync.retry_rejected(text)",
        "function hubsync.resync(text,timestamp with time zone)",
        "function hubsync.refresh(text,text[])",
        "function hubsync.label(text,text,text)",
        "function hubsync.rate_reserve(text,text,boolean)",
        "view hubsync.status",
        "view hubsync.association_status",
        "view hubsync.webhook_status",
        "table hubsync.objects",
        "table hubsync.rate_budget",
        "table hubsync.webhook_events",
      ]),
    );
    expect(rows.filter((r) => !r.described).map((r) => r.object)).toEqual([]);
  });

  it("names an undescribed public object, and lets an underscore helper go without one", async () => {
    const c = await db.pool.connect();
    try {
      await c.query("begin");
      await c.query("create function hubsync.undescribed_probe() returns int language sql as 'select 1'");
      await c.query("create function hubsync._internal_probe() returns int language sql as 'select 1'");
      await c.query("create view hubsync.undescribed_view as select 1 as x");
      const { rows } = await c.query<{ object: string; described: boolean }>(PUBLIC_OBJECTS);
      expect(rows.filter((r) => !r.described && /probe|undescribed/.test(r.object)).map((r) => r.object)).toEqual([
        "function hubsync.undescribed_probe()",
        "view hubsync.undescribed_view",
      ]);
    } finally {
      await c.query("rollback");
      c.release();
    }
  });

  it("hubsync.status has one row per object type and one per association table", async () => {
    const c = await db.pool.connect();
    try {
      await c.query("begin");
      await c.query("insert into hubsync.objects (object_type, kind, enabled, phase) values ('contacts', 'crm', true, 'live'), ('companies', 'crm', true, 'live')");
      await c.query(
        `insert into hubsync.association_pairs (table_name, a_type, b_type, a_column, b_column)
         values ('associations_company_contact', 'companies', 'contacts', 'company_id', 'contact_id')`,
      );
      const { rows } = await c.query<{ object_type: string; phase: string; write_back: boolean }>(
        "select object_type, phase, write_back from hubsync.status order by object_type",
      );
      expect(rows).toEqual([
        { object_type: "associations_company_contact", phase: "backfilling", write_back: false },
        { object_type: "companies", phase: "live", write_back: false },
        { object_type: "contacts", phase: "live", write_back: false },
      ]);
    } finally {
      await c.query("rollback");
      c.release();
    }
  });
});
