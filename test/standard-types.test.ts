import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { STANDARD_OBJECT_TYPES } from "../src/core/schema/object-catalog.ts";
import { standardObjectTypes } from "../src/simulator/object-types.ts";
import type { TestDatabase } from "./support/database.ts";
import { installedDatabase } from "./support/database.ts";

// HubSpot's standard object types are listed in TypeScript (src/core/schema/object-catalog.ts, the
// one discovery and webhooks read), in SQL (sql/10_api.sql: hubsync.standard_object_types() and the
// type-id and singular lookups of _object_kind; sql/40_push_outbox.sql: _type_of_singular), and in
// the simulator (src/simulator/object-types.ts, which plays HubSpot). They must name the same types
// with the same ids and singulars.
const catalog = Object.entries(STANDARD_OBJECT_TYPES).map(([name, t]) => ({ name, objectTypeId: t.objectTypeId, singular: t.singular }));

let d: TestDatabase;
beforeAll(async () => {
  d = await installedDatabase("standard_types");
});
afterAll(async () => {
  await d?.drop();
});

async function hintOf(sql: string, params: unknown[]): Promise<string | null> {
  try {
    await d.pool.query(sql, params);
    return null;
  } catch (err) {
    return (err as pg.DatabaseError).hint ?? null;
  }
}

describe("the standard object types", () => {
  it("hubsync.standard_object_types() lists the TypeScript catalog's types", async () => {
    const { rows } = await d.pool.query<{ t: string[] }>(`select hubsync.standard_object_types() as t`);
    expect([...rows[0]!.t].sort()).toEqual(catalog.map((c) => c.name).sort());
  });

  it("SQL knows each type by the catalog's type id and singular", async () => {
    expect(catalog.length).toBeGreaterThan(10);
    for (const c of catalog) {
      expect(await hintOf(`select hubsync._object_kind($1)`, [c.objectTypeId]), c.objectTypeId).toBe(`Did you mean '${c.name}'? Object types are HubSpot's plural names in lower case.`);
      if (c.singular !== c.name) {
        expect(await hintOf(`select hubsync._object_kind($1)`, [c.singular]), c.singular).toBe(`Did you mean '${c.name}'? Object types are HubSpot's plural names in lower case.`);
      }
      const { rows } = await d.pool.query<{ t: string }>(`select hubsync._type_of_singular($1) as t`, [c.singular]);
      expect(rows[0]!.t, c.singular).toBe(c.name);
    }
  });

  it("the simulator has each of them, with the same type id and singular", () => {
    const sim = new Map(standardObjectTypes().map((t) => [t.name, { name: t.name, objectTypeId: t.objectTypeId, singular: t.singular }]));
    for (const c of catalog) expect(sim.get(c.name)).toEqual(c);
  });
});
