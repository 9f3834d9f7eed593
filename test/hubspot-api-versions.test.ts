import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepAssociations } from "../src/core/associations/sweep.ts";
import { readEnv } from "../src/core/config.ts";
import type { ApiVersion } from "../src/core/hubspot/paths/version.ts";
import { cycleObject } from "../src/core/pull/cycle.ts";
import { runPush } from "../src/core/push/run.ts";
import type { ControlRecord } from "../src/simulator/control-client.ts";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { compareWithSimulator } from "../src/tools/verify/compare.ts";
import { connectWorker, enableSync, quietLog } from "./support/worker.ts";
import { installedDatabase } from "./support/database.ts";
import type { TestDatabase } from "./support/database.ts";

/**
 * One whole cycle (backfill, incremental pull, association backfill and sweep, push of records and
 * associations) on each API family hubsync can call: the dated paths by default, and v3/v4
 * (`HUBSYNC_HUBSPOT_API=legacy`). Every request the simulator saw must belong to that family, and
 * the copy must be exact both ways.
 */

/** Which family a HubSpot path belongs to. */
function familyOf(path: string): string {
  if (/^\/crm\/v[34]\//.test(path) || path.startsWith("/crm-object-schemas/v3/")) return "legacy";
  const dated = /^\/crm\/[a-z]+\/(\d{4}-\d{2})(\/|$|\?)/.exec(path) ?? /^\/crm-object-schemas\/(\d{4}-\d{2})\//.exec(path);
  return dated ? dated[1]! : `other: ${path}`;
}

describe.each(["2026-09", "legacy"] as const)("HUBSYNC_HUBSPOT_API=%s", (version: ApiVersion) => {
  let db: TestDatabase;
  let sim: RunningSimulator;
  let w: ReturnType<typeof connectWorker>;

  beforeAll(async () => {
    db = await installedDatabase(`api_${version.replace("-", "_")}`);
    sim = await startSimulator({ rateLimits: false });
    w = connectWorker(db.url, sim, { apiVersion: version });
  });
  afterAll(async () => {
    await w?.close();
    await sim?.close();
    await db?.drop();
  });

  it("backfill, incremental, associations and push all go to that family's paths, and the copy is exact", async () => {
    const companies: ControlRecord[] = [];
    for (let i = 0; i < 5; i++) companies.push(await sim.control.createRecord("companies", { name: `Co ${i}` }));
    const contacts: ControlRecord[] = [];
    for (let i = 0; i < 20; i++) contacts.push(await sim.control.createRecord("contacts", { email: `v${i}@example.com`, firstname: `V${i}` }));
    for (let i = 0; i < 20; i++) await sim.control.associate("contacts", contacts[i]!.id, "companies", companies[i % 5]!.id);
    await sim.control.resetCounters();

    // backfill and association backfill
    await enableSync(db.pool, "companies");
    await enableSync(db.pool, "contacts");
    await db.pool.query(`select hubsync.enable_write_back('contacts')`);
    for (const t of ["companies", "contacts"]) expect((await cycleObject(w, t, { archived: false })).error).toBeUndefined();
    await sweepAssociations(w);
    expect((await db.pool.query(`select count(*)::int as n from hubspot.associations_company_contact`)).rows[0].n).toBe(20);

    // incremental: an edit in HubSpot arrives
    await sim.control.updateRecord("contacts", contacts[3]!.id, { firstname: "Edited in HubSpot" });
    expect((await cycleObject(w, "contacts", { archived: false })).error).toBeUndefined();
    expect((await db.pool.query(`select firstname from hubspot.contacts where id = $1`, [contacts[3]!.id])).rows[0].firstname).toBe("Edited in HubSpot");

    // push: an update, a create, an association and a removed association
    await db.pool.query(`update hubspot.contacts set firstname = 'Edited in Postgres' where id = $1`, [contacts[4]!.id]);
    await db.pool.query(`insert into hubspot.contacts (email, firstname) values ('new@example.com', 'New')`);
    await db.pool.query(`insert into hubspot.associations_company_contact (company_id, contact_id) values ($1, $2)`, [companies[0]!.id, contacts[1]!.id]);
    await db.pool.query(`delete from hubspot.associations_company_contact where company_id = $1 and contact_id = $2`, [companies[2]!.id, contacts[2]!.id]);
    const ctx = { pool: w.pool, hubspot: w.hubspot, log: quietLog };
    for (const t of ["contacts", "companies"]) await runPush(ctx, t, { coalesceMs: 0 });
    expect((await sim.control.getRecord("contacts", contacts[4]!.id))?.properties.firstname).toBe("Edited in Postgres");
    const pairs = await sim.control.listAssociations("companies", "contacts");
    expect(pairs.some((p) => p.fromId === companies[0]!.id && p.toId === contacts[1]!.id)).toBe(true);
    expect(pairs.some((p) => p.fromId === companies[2]!.id && p.toId === contacts[2]!.id)).toBe(false);

    // a pair written in SQL learns its type ids from HubSpot at the next sweep, as the crontab runs it
    await sweepAssociations(w);
    const cmp = await compareWithSimulator(db.pool, sim.control, ["companies", "contacts"], { associations: true, createKey: null });
    expect(cmp.ok, cmp.summary).toBe(true);

    const requests = await sim.control.requests();
    const families = new Map<string, number>();
    for (const r of requests) families.set(familyOf(r.path), (families.get(familyOf(r.path)) ?? 0) + 1);
    expect([...families.keys()]).toEqual([version]);
    const endpoints = new Set(requests.map((r) => `${r.method} ${r.path.split("?")[0]!.replace(/\/\d+(?=\/|$)/g, "/{id}")}`));
    console.log(`[${version}] ${requests.length} requests on ${endpoints.size} endpoints: ${[...endpoints].sort().join(", ")}`);
    // every family of the cycle was reached on this version
    const legacy = version === "legacy";
    for (const family of legacy ? ["/crm/v3/objects/", "/crm/v3/properties/", "/crm/v4/associations/"] : [`/crm/objects/${version}/`, `/crm/properties/${version}/`, `/crm/associations/${version}/`]) {
      expect([...endpoints].some((e) => e.includes(family)), family).toBe(true);
    }
  });
});

describe("HUBSYNC_HUBSPOT_API", () => {
  it("is 2026-09 unless set; 2026-03 and legacy are taken; anything else is one line naming the choices", () => {
    expect(readEnv({}).HUBSYNC_HUBSPOT_API).toBe("2026-09");
    expect(readEnv({ HUBSYNC_HUBSPOT_API: "" }).HUBSYNC_HUBSPOT_API).toBe("2026-09");
    expect(readEnv({ HUBSYNC_HUBSPOT_API: "2026-03" }).HUBSYNC_HUBSPOT_API).toBe("2026-03");
    expect(readEnv({ HUBSYNC_HUBSPOT_API: "legacy" }).HUBSYNC_HUBSPOT_API).toBe("legacy");
    expect(() => readEnv({ HUBSYNC_HUBSPOT_API: "v3" })).toThrow(
      'hubsync: bad environment: HUBSYNC_HUBSPOT_API must be one of 2026-09, 2026-03, legacy (default 2026-09), got "v3"',
    );
  });
});
