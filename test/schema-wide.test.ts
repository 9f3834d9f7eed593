import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { pullIncremental } from "../src/core/pull/incremental.ts";
import { MAX_TYPED_COLUMNS } from "../src/core/schema/discover.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker, enableSync } from "./support/worker.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;
const names: string[] = [];

beforeAll(async () => {
  db = await installedDatabase("schema_wide");
  sim = await startSimulator({ rateLimits: false });
  worker = connectWorker(db.url, sim);
  // 4,000 property definitions and 60 records: written into the simulator's store directly (the
  // control API would take one HTTP call each; the store is what those calls write to)
  const contacts = sim.store.resolveType("contacts")!;
  const companies = sim.store.resolveType("companies")!;
  for (let n = 0; n < 2000; n++) {
    // every tenth name is longer than PostgreSQL's 63-byte identifiers, and they differ only at the end
    const name = n % 10 === 0 ? `custom_property_with_a_very_long_name_from_some_marketing_integration_${n}` : `custom_${n}`;
    names.push(name);
    const type = (["string", "number", "datetime", "bool", "date"] as const)[n % 5]!;
    const fieldType = { string: "text", number: "number", datetime: "date", bool: "booleancheckbox", date: "date" }[type];
    sim.store.createProperty(contacts, { name, label: name, type, fieldType });
    sim.store.createProperty(companies, { name, label: name, type, fieldType });
  }
  for (let i = 0; i < 30; i++) {
    const props: Record<string, string> = {};
    for (const n of names.slice(0, 200)) props[n] = n.startsWith("custom_property") ? `v${i}` : n.endsWith("5") ? "true" : String(i);
    sim.store.createRecord(contacts, { ...props, email: `w${i}@example.com` });
    sim.store.createRecord(companies, { ...props, name: `W ${i}` });
  }
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

describe("a portal with 2,000 custom properties — one story, in order: later tests build on what earlier ones left", () => {
  it("syncs with default typed columns and every property in jsonb, or with all selected up to the column budget", async () => {
    await enableSync(db.pool, "contacts");
    await enableSync(db.pool, "companies", ["name", "domain", ...names]);
    const results = await cycleAll(worker, null);
    expect(results.filter((r) => r.error)).toEqual([]);

    const contacts = await db.pool.query(`select properties from hubspot.contacts`);
    expect(contacts.rows).toHaveLength(30);
    expect(Object.keys(contacts.rows[0].properties).length).toBeGreaterThan(2000);

    const cols = await db.pool.query(
      `select table_name, count(*)::int as n, max(octet_length(column_name))::int as longest
         from information_schema.columns where table_schema = 'hubspot' group by 1 order by 1`,
    );
    const byTable = Object.fromEntries(cols.rows.map((r) => [r.table_name, r]));
    expect(byTable.contacts.n).toBeLessThan(30);
    expect(byTable.companies.n).toBeLessThanOrEqual(MAX_TYPED_COLUMNS + 10);
    expect(byTable.companies.longest).toBeLessThanOrEqual(63);

    // long names that differ only at the end got distinct columns, and values landed in them
    const mapped = await db.pool.query(
      `select column_name from hubsync.columns where object_type = 'companies' and property_name = any($1::text[])`,
      [[names[0], names[10]]],
    );
    expect(new Set(mapped.rows.map((r) => r.column_name)).size).toBe(2);
    const value = await db.pool.query(`select ${mapped.rows[0].column_name} as v from hubspot.companies where properties->>'name' = 'W 3'`);
    expect(value.rows[0].v).toBe("v3");
  });

  it("pulls later changes of a wide object through batch read (the property list does not fit in a search body)", async () => {
    const [row] = (await db.pool.query(`select id from hubspot.companies where properties->>'name' = 'W 4'`)).rows;
    await sim.control.updateRecord("companies", row.id, { custom_1: "42", name: "W 4 renamed" });
    await sim.control.resetCounters();
    await pullIncremental(worker, "companies");
    const after = await db.pool.query(`select name, custom_1 from hubspot.companies where id = $1`, [row.id]);
    expect(after.rows[0]).toEqual({ name: "W 4 renamed", custom_1: "42" });
    const counters = await sim.control.counters();
    expect(Object.keys(counters.byEndpoint).some((e) => e.includes("batch/read"))).toBe(true);
  });
});
