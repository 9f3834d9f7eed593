import type { Client } from "@hubspot/api-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { loadPairs, type AssociationPair } from "../src/core/associations/pairs.ts";
import { sweepAssociations } from "../src/core/associations/sweep.ts";
import { syncPair } from "../src/core/associations/sync.ts";
import { expectedRows, tableRows } from "./support/associations.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { testSimulator, type TestSimulator } from "./support/simulator.ts";
import { connectWorker, enableSync } from "./support/worker.ts";

/**
 * A row whose end on the side a full pass reads was never a local record: the company was created
 * and associated in HubSpot, the contact's pull brought the pair, and the company was deleted in
 * HubSpot before any pull brought it. A pass over the live local companies never read it, so the
 * row outlived both HubSpot's pair and the company (seen in the soak as a pair left over after a
 * full sweep).
 */
let db: TestDatabase;
let sim: TestSimulator;
let hubspot: Client;
let worker: ReturnType<typeof connectWorker>;
let pair: AssociationPair;

beforeAll(async () => {
  db = await installedDatabase("assoc_stray");
  sim = await testSimulator({ seed: { size: 60, seed: 3 } });
  hubspot = sim.client();
  worker = connectWorker(db.url, sim);
  for (const t of ["companies", "contacts"]) await enableSync(worker.pool, t);
  for (const c of await cycleAll(worker, ["companies", "contacts"], { archived: false })) expect(c.error, c.objectType).toBeUndefined();
  await sweepAssociations(worker, { kind: "backfill" });
  pair = (await loadPairs(worker.pool)).find((p) => p.table === "associations_company_contact")!;
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

describe("a full pass over an association pair", () => {
  it("drops a row whose end on the side it reads was deleted in HubSpot before any pull brought that record", async () => {
    const contact = (await worker.pool.query<{ id: string }>(`select id from hubspot.contacts order by id limit 1`)).rows[0]!.id;
    // company → contact, HubSpot's default type
    const company = (
      await hubspot.crm.companies.basicApi.create({
        properties: { name: "Gone before it came" },
        associations: [{ to: { id: contact }, types: [{ associationCategory: "HUBSPOT_DEFINED" as never, associationTypeId: 280 }] }],
      })
    ).id;
    // the contacts' side brings the pair; the company itself is never pulled
    await syncPair(worker, pair, { side: "b" });
    expect((await tableRows(db.pool, pair)).some((r) => r.a === company && r.b === contact)).toBe(true);
    expect((await worker.pool.query(`select from hubspot.companies where id = $1`, [company])).rowCount).toBe(0);

    await hubspot.crm.companies.basicApi.archive(company);
    // the companies' side: every live local company, and the one the table names without a row
    const pass = await syncPair(worker, pair, { side: "a" });
    expect(pass.deleted).toBeGreaterThanOrEqual(1);
    expect((await tableRows(db.pool, pair)).some((r) => r.a === company)).toBe(false);
    expect(await tableRows(db.pool, pair)).toEqual(await expectedRows(sim, pair));
  });
});
