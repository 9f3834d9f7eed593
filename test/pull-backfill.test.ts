import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEARCH_DISORDER, startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { backfill } from "../src/core/pull/backfill.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { discover } from "../src/core/schema/discover.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker, countRequests, enableSync } from "./support/worker.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;

async function createMany(type: string, n: number, make: (i: number) => Record<string, string>): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 50) {
    const chunk = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, (_, k) => sim.control.createRecord(type, make(i + k))),
    );
    ids.push(...chunk.map((r: { id: string }) => r.id));
  }
  return ids;
}

beforeAll(async () => {
  db = await installedDatabase("pull_backfill");
  sim = await startSimulator({ rateLimits: false, faults: SEARCH_DISORDER });
  worker = connectWorker(db.url, sim);
  await sim.control.createCustomObject({
    name: "pets",
    labels: { singular: "Pet", plural: "Pets" },
    primaryDisplayProperty: "pet_name",
    requiredProperties: ["pet_name"],
    properties: [
      { name: "pet_name", label: "Name", type: "string", fieldType: "text" },
      { name: "legs", label: "Legs", type: "number", fieldType: "number" },
      { name: "born_on", label: "Born", type: "date", fieldType: "date" },
      { name: "vaccinated", label: "Vaccinated", type: "bool", fieldType: "booleancheckbox" },
      {
        name: "tricks",
        label: "Tricks",
        type: "enumeration",
        fieldType: "checkbox",
        options: [
          { label: "Sit", value: "sit" },
          { label: "Roll", value: "roll" },
          { label: "Fetch", value: "fetch" },
        ],
      },
    ],
  });
  await createMany("contacts", 250, (i) => ({ email: `person${i}@example.com`, firstname: `First${i}`, lastname: `Last${i}` }));
  await createMany("companies", 120, (i) => ({ name: `Company ${i}`, domain: `c${i}.example.com` }));
  await createMany("pets", 130, (i) => ({ pet_name: `Pet ${i}`, legs: String(i % 5), born_on: "2020-03-04", vaccinated: i % 2 ? "true" : "false", tricks: "sit;fetch" }));
});

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

async function expectTableEqualsSimulator(type: string, table: string) {
  const records = await sim.control.listRecords(type);
  const { rows } = await db.pool.query(`select id, properties, updated_at from hubspot.${table} order by id::bigint`);
  expect(rows.map((r) => r.id).sort()).toEqual(records.map((r: { id: string }) => r.id).sort());
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const rec of records as Array<{ id: string; properties: Record<string, string | null>; updatedAt: string }>) {
    const row = byId.get(rec.id)!;
    for (const [k, v] of Object.entries(rec.properties)) expect(row.properties[k] ?? null, `${type} ${rec.id} ${k}`).toBe(v ?? null);
    expect(new Date(row.updated_at).toISOString()).toBe(new Date(rec.updatedAt).toISOString());
  }
}

describe("backfill — one story, in order: later tests build on what earlier ones left", () => {
  it("copies contacts, companies and a custom object exactly, with typed columns, owners and pipelines", async () => {
    for (const t of ["contacts", "companies", "owners", "pipelines", "deals"]) await enableSync(db.pool, t);
    // a custom object with its properties chosen as typed columns (null would give HubSpot's default set)
    await enableSync(db.pool, "pets", ["pet_name", "legs", "born_on", "vaccinated", "tricks"]);
    await sim.control.resetCounters();
    const results = await cycleAll(worker, null);
    expect(results.filter((r) => r.error)).toEqual([]);
    expect(results.length).toBeGreaterThanOrEqual(6);
    expect(results.filter((r) => r.phase !== "live")).toEqual([]);

    await expectTableEqualsSimulator("contacts", "contacts");
    await expectTableEqualsSimulator("companies", "companies");
    await expectTableEqualsSimulator("pets", "pets");

    const pet = await db.pool.query(`select pet_name, legs, born_on::text, vaccinated, tricks from hubspot.pets order by id::bigint limit 2`);
    expect(pet.rows[1]).toEqual({ pet_name: "Pet 1", legs: "1", born_on: "2020-03-04", vaccinated: true, tricks: ["sit", "fetch"] });
    const contact = await db.pool.query(`select email, firstname from hubspot.contacts where email = 'person7@example.com'`);
    expect(contact.rows).toEqual([{ email: "person7@example.com", firstname: "First7" }]);

    const objects = await db.pool.query(`select object_type, object_type_id, table_name, singular_name, phase from hubsync.objects where object_type = 'pets'`);
    expect(objects.rows[0]).toMatchObject({ table_name: "pets", singular_name: "pet", phase: "live" });
    expect(objects.rows[0].object_type_id).toMatch(/^2-\d+$/);

    const stages = await db.pool.query(`select count(*)::int as n from hubspot.pipeline_stages where object_type = 'deals'`);
    expect(stages.rows[0].n).toBeGreaterThan(0);
    const owners = await db.pool.query(`select count(*)::int as n from hubspot.owners`);
    const simOwners = await worker.hubspot.ownersPage({});
    expect(owners.rows[0].n).toBeGreaterThanOrEqual(simOwners.results.length);

    const runs = await db.pool.query(
      `select object_type, records, requests from hubsync.runs where kind = 'backfill' and status = 'ok' and object_type in ('contacts','companies','pets')`,
    );
    const records = runs.rows.reduce((a, r) => a + r.records, 0);
    const requests = runs.rows.reduce((a, r) => a + r.requests, 0);
    expect(records).toBe(500);
    // ids page + batch read per 100 records, plus discovery
    console.log(`backfill: ${requests} requests for ${records} records = ${(requests / records).toFixed(3)} calls/record`);
    expect(requests / records).toBeLessThan(0.05);
  });

  it.each([
    { type: "tickets", mode: "list", maxPropertyQueryChars: undefined, make: (i: number) => ({ subject: `Ticket ${i}`, hs_pipeline: "0", hs_pipeline_stage: "1" }) },
    { type: "products", mode: "ids+batch-read", maxPropertyQueryChars: 0, make: (i: number) => ({ name: `Product ${i}`, price: String(i) }) },
  ])("resumes a crashed backfill from its last page instead of starting over ($mode)", async ({ type, mode, maxPropertyQueryChars, make }) => {
    await enableSync(db.pool, type);
    await createMany(type, 1000, make);
    await discover(worker, type);
    const since = Date.now();
    await expect(
      backfill(worker, type, {
        maxPropertyQueryChars,
        onPage: (n) => {
          if (n === 4) throw new Error("worker killed");
        },
      }),
    ).rejects.toThrow("worker killed");
    const partial = await db.pool.query(`select count(*)::int as n from hubspot.${type}`);
    expect(partial.rows[0].n).toBe(400);
    const run = await backfill(worker, type, { maxPropertyQueryChars });
    expect(run.details).toMatchObject({ resumedFromPage: 4, pages: 6, mode });
    const full = await db.pool.query(`select count(*)::int as n from hubspot.${type}`);
    expect(full.rows[0].n).toBe(1000);
    const log = await sim.control.requests({ since });
    // 4 pages before the crash (plus the one read ahead), 6 after: nothing re-read from the start
    const lists = countRequests(log, `/crm/objects/2026-09/${type}`, "GET");
    expect(lists).toBeGreaterThanOrEqual(10);
    expect(lists).toBeLessThanOrEqual(11);
    expect(countRequests(log, `/crm/objects/2026-09/${type}/batch/read`, "POST")).toBe(mode === "list" ? 0 : lists);
    await expectTableEqualsSimulator(type, type);
  });

  it("keeps an incremental run to about one search per 200 and one batch read per 100 changed records", async () => {
    const companies = (await sim.control.listRecords("companies")) as Array<{ id: string }>;
    for (const c of companies.slice(0, 100)) await sim.control.updateRecord("companies", c.id, { domain: `changed-${c.id}.example.com` });
    await createMany("companies", 50, (i) => ({ name: `Later ${i}` }));
    const { pullIncremental } = await import("../src/core/pull/incremental.ts");
    const run = await pullIncremental(worker, "companies");
    expect(run.records).toBe(150);
    console.log(
      `incremental: ${run.requests} requests (${run.details!.searches} searches, ${run.details!.fetched} records read) for ${run.records} changed records = ${(run.requests / run.records).toFixed(3)} calls/record`,
    );
    expect(run.requests).toBeLessThanOrEqual(4);
    await expectTableEqualsSimulator("companies", "companies");
  });

  it("puts an object HubSpot does not have into phase 'error' with a reason, and leaves the others alone", async () => {
    await enableSync(db.pool, "spaceships");
    const results = await cycleAll(worker, ["spaceships", "contacts"]);
    expect(results.find((r) => r.objectType === "contacts")?.error).toBeUndefined();
    const { rows } = await db.pool.query(`select phase, last_error from hubsync.objects where object_type = 'spaceships'`);
    expect(rows[0].phase).toBe("error");
    expect(rows[0].last_error).toMatch(/no object type named "spaceships"/);
  });
});
