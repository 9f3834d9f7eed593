import { afterAll, beforeAll, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { sweepAssociations } from "../src/core/associations/sweep.ts";
import { compareWithSimulator } from "../src/tools/verify/compare.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker, enableSync } from "./support/worker.ts";

// The comparison every fault test ends with must see each way a copy can go wrong.
let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;

beforeAll(async () => {
  db = await installedDatabase("faults_compare");
  sim = await startSimulator({ rateLimits: false, seed: { size: 600, seed: 7 } });
  worker = connectWorker(db.url, sim);
  await enableSync(db.pool, "contacts", ["email", "firstname", "lastname", "annualrevenue", "hs_lead_status"]);
  await enableSync(db.pool, "companies");
  const cycles = await cycleAll(worker, ["contacts", "companies"]);
  expect(cycles.map((c) => c.error ?? c.phase)).toEqual(["live", "live"]);
  await sweepAssociations(worker);
});

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

it("a copy made by a pull converges record by record, through the control API and the in-process store alike", async () => {
  const viaHttp = await compareWithSimulator(db.pool, sim.control, ["contacts", "companies"], { associations: true });
  expect(viaHttp.summary).toMatch(/^converged: \d+ records compared/);
  expect(viaHttp.ok).toBe(true);
  expect(viaHttp.records).toBeGreaterThan(50);
  expect(viaHttp.types.find((t) => t.objectType === "contacts")!.columns).toBe(5);
  expect(viaHttp.associations.map((a) => a.table)).toContain("associations_company_contact");
  const viaStore = await compareWithSimulator(db.pool, sim.store, ["contacts", "companies"]);
  expect(viaStore.ok).toBe(true);
  expect(viaStore.records).toBe(viaHttp.records);

  // an association row lost, then put back
  const { rows: lost } = await db.pool.query(`delete from hubspot.associations_company_contact where ctid = (select min(ctid) from hubspot.associations_company_contact) returning *`);
  const r = await compareWithSimulator(db.pool, sim.control, ["contacts", "companies"], { associations: true });
  expect(r.associations.find((x) => x.table === "associations_company_contact")!.counts).toEqual({ missing: 1, extra: 0, mismatched: 0 });
  expect(r.summary).toMatch(/^DIVERGED: .*associations_company_contact \d+\/\d+: 1 missing, 0 extra, 0 mismatched/);
  await db.pool.query(`insert into hubspot.associations_company_contact select * from json_populate_record(null::hubspot.associations_company_contact, $1)`, [lost[0]]);
});

it("reports missing, extra, duplicated creates, mismatched values, archived rows still present and unsent rows", async () => {
  const contacts = await sim.control.listRecords("contacts");
  const [a, b, c, d] = contacts;
  // missing: a row deleted locally; extra: an id HubSpot never had; a value changed behind the sync's back
  await db.pool.query(`delete from hubspot.contacts where id = $1`, [a!.id]);
  await db.pool.query(`insert into hubspot.contacts (id, email) values ('999999999', 'ghost@example.com')`);
  await db.pool.query(`update hubspot.contacts set firstname = 'Tampered', annualrevenue = 12.5 where id = $1`, [b!.id]);
  // archived in HubSpot, never pulled
  await sim.control.archiveRecord("contacts", c!.id);
  // HubSpot created one local row twice (as it would without a unique-value property)
  await sim.control.createProperty("contacts", { name: "hubsync_local_id", type: "string", fieldType: "text" });
  await sim.control.updateRecord("contacts", d!.id, { hubsync_local_id: "11111111-1111-1111-1111-111111111111" });
  const twin = await sim.control.createRecord("contacts", { email: "twin@example.com", hubsync_local_id: "11111111-1111-1111-1111-111111111111" });
  // a local insert not pushed yet
  await db.pool.query(`insert into hubspot.contacts (email) values ('local@example.com')`);

  const r = await compareWithSimulator(db.pool, sim.control, ["contacts", "companies"]);
  expect(r.ok).toBe(false);
  const t = r.types.find((x) => x.objectType === "contacts")!;
  expect([...t.missing].sort()).toEqual([a!.id, twin.id].sort()); // the twin was never pulled
  expect(t.extra).toEqual(["999999999"]);
  expect(t.archivedPresent).toEqual([c!.id]);
  expect(t.duplicated).toEqual([twin.id]);
  expect(t.pendingLocal).toBe(1);
  const bMismatches = t.mismatched.filter((m) => m.id === b!.id).map((m) => m.property).sort();
  expect(bMismatches).toEqual(["annualrevenue", "firstname"]);
  expect(t.mismatched.find((m) => m.id === d!.id)).toBeUndefined(); // hubsync_local_id has no column here
  expect(r.types.find((x) => x.objectType === "companies")!.ok).toBe(true);
  expect(r.summary).toMatch(/^DIVERGED: /);
  expect(r.summary).toContain(`contacts `);
  expect(r.summary).toMatch(/2 missing .*1 extra .*1 duplicated .*1 archived but present .*2 mismatched .*1 rows without a HubSpot id/);

  // on_archive 'mark': the archived row may stay, marked
  await db.pool.query(`update hubsync.objects set on_archive = 'mark' where object_type = 'contacts'`);
  await db.pool.query(`update hubspot.contacts set archived_at = now() where id = $1`, [c!.id]);
  const marked = await compareWithSimulator(db.pool, sim.control, ["contacts"]);
  expect(marked.types[0]!.counts.archivedPresent).toBe(0);
});
