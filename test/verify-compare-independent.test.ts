import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { sweepAssociations } from "../src/core/associations/sweep.ts";
import { compareWithSimulator } from "../src/tools/verify/compare.ts";
import { expectedColumnValue } from "../src/tools/verify/expected-value.ts";
import { connectWorker, enableSync } from "./support/worker.ts";
import { installedDatabase } from "./support/database.ts";
import type { TestDatabase } from "./support/database.ts";

// The comparison must not share the pull's blind spots: a conversion bug in the pull, a wrong label
// or type id, and an association table that was never made are each a divergence.

/** While on, the pull's conversion drops the fraction of numbers: the kind of bug compare exists to catch. */
const bug = vi.hoisted(() => ({ truncateNumbers: false }));
vi.mock("../src/core/schema/mapping.ts", async (importOriginal) => {
  const real = await importOriginal<typeof import("../src/core/schema/mapping.ts")>();
  return {
    ...real,
    convertValue: (value: string | null | undefined, pgType: Parameters<typeof real.convertValue>[1]) => {
      const v = real.convertValue(value, pgType);
      return bug.truncateNumbers && pgType === "numeric" && typeof v === "string" ? v.replace(/\.\d*$/, "") : v;
    },
  };
});

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;
const TYPES = ["contacts", "companies"];

beforeAll(async () => {
  db = await installedDatabase("verify_compare");
  sim = await startSimulator({ rateLimits: false, seed: { size: 300, seed: 11 } });
  worker = connectWorker(db.url, sim);
  await enableSync(db.pool, "contacts", ["email", "firstname", "annualrevenue", "createdate"]);
  await enableSync(db.pool, "companies");
  const cycles = await cycleAll(worker, TYPES);
  expect(cycles.map((c) => c.error ?? c.phase)).toEqual(["live", "live"]);
  await sweepAssociations(worker);
  const clean = await compareWithSimulator(db.pool, sim.control, TYPES, { associations: true });
  expect(clean.summary).toMatch(/^converged/);
});

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

it("a value the pull converted wrongly is a mismatch, though the pull's own conversion would agree with it", async () => {
  const [contact] = await sim.control.listRecords("contacts");
  // the bug stays on while comparing: a comparison reusing the pull's conversion would see no difference
  bug.truncateNumbers = true;
  try {
    await sim.control.updateRecord("contacts", contact!.id, { annualrevenue: "1234.56" });
    await cycleAll(worker, ["contacts"]);
    const { rows } = await db.pool.query(`select annualrevenue::text as v from hubspot.contacts where id = $1`, [contact!.id]);
    expect(rows[0].v).toBe("1234"); // what the broken pull wrote

    const r = await compareWithSimulator(db.pool, sim.control, TYPES);
    expect(r.ok).toBe(false);
    expect(r.types.find((t) => t.objectType === "contacts")!.mismatched).toEqual([
      { id: contact!.id, property: "annualrevenue", hubspot: "1234.56", postgres: "1234" },
    ]);
    expect(r.summary).toContain(`${contact!.id}.annualrevenue: HubSpot "1234.56" vs "1234"`);
  } finally {
    bug.truncateNumbers = false;
  }

  // pulled again with a working conversion, the copy converges
  await sim.control.updateRecord("contacts", contact!.id, { annualrevenue: "99.5" });
  await cycleAll(worker, ["contacts"]);
  expect((await compareWithSimulator(db.pool, sim.control, TYPES)).ok).toBe(true);
});

it("a wrong label or type id on an association row is a mismatch", async () => {
  const { rows } = await db.pool.query<{ company_id: string; contact_id: string; labels: string[]; type_ids: number[] }>(
    `select company_id, contact_id, labels, type_ids from hubspot.associations_company_contact order by company_id, contact_id limit 2`,
  );
  const [first, second] = rows;
  await db.pool.query(`update hubspot.associations_company_contact set labels = labels || 'Decision maker'::text where company_id = $1 and contact_id = $2`, [
    first!.company_id,
    first!.contact_id,
  ]);
  await db.pool.query(`update hubspot.associations_company_contact set type_ids = type_ids || 999::integer where company_id = $1 and contact_id = $2`, [
    second!.company_id,
    second!.contact_id,
  ]);
  try {
    const r = await compareWithSimulator(db.pool, sim.control, TYPES, { associations: true });
    expect(r.ok).toBe(false);
    const table = r.associations.find((a) => a.table === "associations_company_contact")!;
    expect(table.counts).toEqual({ missing: 0, extra: 0, mismatched: 2 });
    const sorted = (xs: Array<string | number>) => xs.map(String).sort().join(",");
    expect(table.mismatched).toEqual(
      expect.arrayContaining([
        { pair: [first!.company_id, first!.contact_id], property: "labels", hubspot: sorted(first!.labels), postgres: sorted([...first!.labels, "Decision maker"]) },
        { pair: [second!.company_id, second!.contact_id], property: "type_ids", hubspot: sorted(second!.type_ids), postgres: sorted([...second!.type_ids, 999]) },
      ]),
    );
    expect(r.summary).toMatch(/associations_company_contact \d+\/\d+: 0 missing, 0 extra, 2 mismatched/);
  } finally {
    await db.pool.query(`update hubspot.associations_company_contact set labels = $3, type_ids = $4 where company_id = $1 and contact_id = $2`, [
      first!.company_id, first!.contact_id, first!.labels, first!.type_ids,
    ]);
    await db.pool.query(`update hubspot.associations_company_contact set labels = $3, type_ids = $4 where company_id = $1 and contact_id = $2`, [
      second!.company_id, second!.contact_id, second!.labels, second!.type_ids,
    ]);
  }
  expect((await compareWithSimulator(db.pool, sim.control, TYPES, { associations: true })).ok).toBe(true);
});

it("an association table missing for two synced types that HubSpot associates is a divergence", async () => {
  const associated = await sim.control.listAssociations("companies", "contacts");
  expect(associated.length).toBeGreaterThan(0);
  await db.pool.query(`alter table hubspot.associations_company_contact rename to kept_aside`);
  try {
    const r = await compareWithSimulator(db.pool, sim.control, TYPES, { associations: true });
    expect(r.ok).toBe(false);
    const table = r.associations.find((a) => a.table === "associations_company_contact")!;
    expect(table).toMatchObject({ tableMissing: true, expected: associated.length, rows: 0, ok: false });
    expect(table.counts.missing).toBe(associated.length);
    expect(r.summary).toContain(`associations_company_contact: no table, ${associated.length} associations in HubSpot`);

    // never registered at all (a pair hubsync forgot): still reported, named by its two types
    await db.pool.query(`create temp table pairs_aside as select * from hubsync.association_pairs where table_name = 'associations_company_contact'`);
    await db.pool.query(`delete from hubsync.association_pairs where table_name = 'associations_company_contact'`);
    const unregistered = await compareWithSimulator(db.pool, sim.control, TYPES, { associations: true });
    expect(unregistered.ok).toBe(false);
    expect(unregistered.associations.find((a) => a.tableMissing)).toMatchObject({ table: "associations of companies and contacts", expected: associated.length });
  } finally {
    await db.pool.query(`insert into hubsync.association_pairs select * from pairs_aside`).catch(() => undefined);
    await db.pool.query(`alter table hubspot.kept_aside rename to associations_company_contact`);
  }
  expect((await compareWithSimulator(db.pool, sim.control, TYPES, { associations: true })).ok).toBe(true);
});

it("works out each column's value from HubSpot's string by itself", () => {
  const cases: Array<[string | null, Parameters<typeof expectedColumnValue>[1], unknown]> = [
    [null, "text", null],
    ["", "numeric", null],
    ["Ada", "text", "Ada"],
    ["1234.50", "numeric", "1234.50"],
    ["-3e2", "numeric", "-3e2"],
    ["12 apples", "numeric", null],
    ["1e5000", "numeric", null],
    ["TRUE", "boolean", true],
    ["false", "boolean", false],
    ["yes", "boolean", null],
    ["2024-02-29", "date", "2024-02-29"],
    ["2023-02-29", "date", null],
    ["2024-05-31T23:30:00.000-02:00", "date", "2024-06-01"],
    ["1717113600000", "date", "2024-05-31"],
    ["2024-05-31T10:00:00.000Z", "timestamptz", "2024-05-31T10:00:00.000Z"],
    ["2024-05-31T12:00:00+02:00", "timestamptz", "2024-05-31T10:00:00.000Z"],
    ["1717149600000", "timestamptz", "2024-05-31T10:00:00.000Z"],
    ["2024-05-31", "timestamptz", "2024-05-31T00:00:00.000Z"],
    ["20240531", "timestamptz", null],
    ["2024-05-31T25:00:00Z", "timestamptz", null],
    ["not a date", "timestamptz", null],
    ["a; b;;c", "text[]", ["a", "b", "c"]],
  ];
  for (const [value, type, want] of cases) expect([value, type, expectedColumnValue(value, type)]).toEqual([value, type, want]);
});
