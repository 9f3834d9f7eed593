import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { runPush } from "../src/core/push/run.ts";
import { compareWithSimulator } from "../src/tools/verify/compare.ts";
import { connectWorker, countRequests } from "./support/worker.ts";
import { installedDatabase } from "./support/database.ts";
import type { TestDatabase } from "./support/database.ts";

/**
 * Exactly-once creates where HubSpot has no unique-value properties (notes here), and a local-id
 * property that cannot be made (a missing scope) holding back only the creates, with the reason.
 */

let db: TestDatabase;
let sim: RunningSimulator;
let deps: ReturnType<typeof connectWorker>;
const NOTE_PROPS = ["hs_note_body", "hs_timestamp"];

async function simPost(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${sim.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${sim.token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  db = await installedDatabase("push_creates");
  sim = await startSimulator({ rateLimits: false });
  for (let i = 0; i < 3; i++) await sim.control.createRecord("notes", { hs_note_body: `Old ${i}`, hs_timestamp: "2026-01-01T00:00:00.000Z" });
  for (let i = 0; i < 3; i++) await sim.control.createRecord("deals", { dealname: `Deal ${i}`, pipeline: "default", dealstage: "appointmentscheduled" });
  deps = connectWorker(db.url, sim, { maxAttempts: 3, backoffBaseMs: 10, timeoutMs: 2_000 });
  await db.pool.query(`select hubsync.enable_sync('notes', $1::text[], true)`, [NOTE_PROPS]);
  await db.pool.query(`select hubsync.enable_sync('deals', array['dealname', 'pipeline', 'dealstage'], true)`);
  for (const r of await cycleAll(deps, ["notes", "deals"])) expect(r.phase).toBe("live");
});

afterAll(async () => {
  await deps?.close();
  await sim?.close();
  await db?.drop();
});

describe("unique-value properties, as HubSpot has them", () => {
  it("the simulator refuses hasUniqueValue on notes with HubSpot's message, accepts it on contacts, and can be told to accept it everywhere", async () => {
    const prop = (name: string) => ({ name, label: name, type: "string", fieldType: "text", groupName: "noteinformation", hasUniqueValue: true });
    const refused = await simPost("/crm/v3/properties/notes", prop("uniq_note"));
    expect(refused).toEqual({ status: 400, body: expect.objectContaining({ category: "VALIDATION_ERROR", message: "Unique value properties are not supported for object type 0-46" }) });
    expect((await simPost("/crm/v3/properties/contacts", { ...prop("uniq_contact"), groupName: "contactinformation" })).status).toBe(201);
    await sim.control.configure({ uniquePropertiesEverywhere: true });
    try {
      expect((await simPost("/crm/v3/properties/notes", prop("uniq_note"))).status).toBe(201);
    } finally {
      await sim.control.configure({ uniquePropertiesEverywhere: false });
      await sim.control.deleteProperty("notes", "uniq_note");
      await sim.control.deleteProperty("contacts", "uniq_contact");
    }
  });
});

describe("notes: exactly-once creates without a unique property", () => {
  it("answers lost: each note is created once; the retry finds them by a search once the index shows them", async () => {
    const since = Date.now();
    const existing = (await db.pool.query<{ id: string }>(`select id from hubspot.notes order by id limit 2`)).rows.map((r) => r.id);
    await db.pool.query(`insert into hubspot.notes (hs_note_body, hs_timestamp) select 'Lost ' || g, '2026-12-01T10:00:00Z' from generate_series(1, 10) g`);
    await db.pool.query(`update hubspot.notes set hs_note_body = 'Edited blind' where id = any ($1::text[])`, [existing]);

    // HubSpot's search shows new records a while after they are written; the push trusts it after 1.5 s
    await sim.control.configure({ indexLagMs: 800, faults: { lostResponseRate: 1, faultPath: "/batch/" } });
    await runPush(deps, "notes", { coalesceMs: 0, searchSettleMs: 1_500 }).catch(() => {});
    const blind = await sim.control.requests({ since });
    // a create whose answer may be lost is not sent again blindly (that would make two notes)
    expect(countRequests(blind, "/batch/create")).toBe(1);
    const lost = () => sim.control.listRecords("notes").then((rs) => rs.filter((r) => r.properties.hs_note_body?.startsWith("Lost ")));
    expect(await lost()).toHaveLength(10);
    // the property that carries the local id is a plain one on notes
    const defs = (await (await fetch(`${sim.url}/crm/v3/properties/notes/hubsync_local_id`, { headers: { authorization: `Bearer ${sim.token}` } })).json()) as { hasUniqueValue?: boolean };
    expect(defs.hasUniqueValue).toBe(false);

    // answers return; the creates are due again at once, before the search could show them: held, with the reason
    await sim.control.configure({ faults: { lostResponseRate: 0, faultPath: "" } });
    await db.pool.query(`update hubsync.outbox set next_attempt_at = now() where status in ('pending', 'in_flight')`);
    // (a settle time of a minute here, so a slow machine cannot let 1.5 s pass before this run looks)
    const before = Date.now();
    await runPush(deps, "notes", { coalesceMs: 0, searchSettleMs: 60_000 });
    expect(countRequests(await sim.control.requests({ since: before }), "/batch/create")).toBe(0);
    const waiting = await db.pool.query(`select distinct status, error_category, error_message from hubsync.outbox where op = 'create'`);
    expect(waiting.rows).toEqual([{ status: "pending", error_category: "PAUSED", error_message: expect.stringContaining("looks it up by hubsync_local_id") }]);

    // after the settle time the lookup finds all ten: no create is sent again (the held rows were
    // scheduled for the minute's end; they are made due now, when 1.5 s have passed)
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    await db.pool.query(`update hubsync.outbox set next_attempt_at = now() where status = 'pending'`);
    const after = Date.now();
    await runPush(deps, "notes", { coalesceMs: 0, searchSettleMs: 1_500 });
    const finish = await sim.control.requests({ since: after });
    expect(countRequests(finish, "/batch/create")).toBe(0);
    expect(countRequests(finish, "/search")).toBe(1);
    await sim.control.configure({ indexLagMs: 0 });
    await cycleAll(deps, ["notes"]);
    expect(await lost()).toHaveLength(10);
    const r = await compareWithSimulator(db.pool, sim.control, ["notes"]);
    expect(r.ok, r.summary).toBe(true);
    expect((await db.pool.query(`select status, count(*)::int as n from hubsync.outbox where object_type = 'notes' group by 1`)).rows).toEqual([{ status: "sent", n: 12 }]);
    console.log(`NOTES lost answers: 10 notes created once; ${countRequests(blind, "/batch/")} blind batch calls, ${finish.length} calls to settle (${r.summary})`);
  });

  it("a note that never reached HubSpot is created after the lookup finds nothing", async () => {
    await db.pool.query(`insert into hubspot.notes (hs_note_body, hs_timestamp) values ('Dropped', '2026-12-02T10:00:00Z')`);
    // the connection drops before HubSpot processed it
    await sim.control.configure({ faults: { dropRate: 1, faultPath: "/batch/create" } });
    await runPush(deps, "notes", { coalesceMs: 0, searchSettleMs: 0 }).catch(() => {});
    await sim.control.configure({ faults: { dropRate: 0, faultPath: "" } });
    expect((await sim.control.listRecords("notes")).filter((r) => r.properties.hs_note_body === "Dropped")).toHaveLength(0);
    await db.pool.query(`update hubsync.outbox set next_attempt_at = now() where status in ('pending', 'in_flight')`);
    await runPush(deps, "notes", { coalesceMs: 0, searchSettleMs: 0 });
    expect((await sim.control.listRecords("notes")).filter((r) => r.properties.hs_note_body === "Dropped")).toHaveLength(1);
    expect((await db.pool.query(`select id is not null as has_id from hubspot.notes where hs_note_body = 'Dropped'`)).rows).toEqual([{ has_id: true }]);
  });
});

describe("credentials that cannot make the local-id property", () => {
  it("creates wait with the scope named on their outbox rows; updates and deletes of the type go on", async () => {
    await sim.control.configure({ missingScopes: [{ pathPrefix: "/crm/v3/properties/deals", method: "POST", scope: "crm.schemas.deals.write" }] });
    try {
      const [a, b] = (await db.pool.query<{ id: string }>(`select id from hubspot.deals order by id limit 2`)).rows.map((r) => r.id);
      await db.pool.query(`insert into hubspot.deals (dealname, pipeline, dealstage) values ('New deal', 'default', 'appointmentscheduled')`);
      await db.pool.query(`update hubspot.deals set dealname = 'Renamed' where id = $1`, [a]);
      await db.pool.query(`delete from hubspot.deals where id = $1`, [b]);
      const result = await runPush(deps, "deals", { coalesceMs: 0 });
      expect(result).toMatchObject({ sent: 2, retrying: 1 });
      expect(((await sim.control.getRecord("deals", a!)) as { properties: Record<string, string> }).properties.dealname).toBe("Renamed");
      expect(((await sim.control.getRecord("deals", b!)) as { archived?: boolean } | null)?.archived ?? true).toBe(true);
      const row = await db.pool.query(`select status, error_category, error_message from hubsync.outbox where op = 'create' and object_type = 'deals'`);
      expect(row.rows).toEqual([{ status: "pending", error_category: "PAUSED", error_message: expect.stringContaining("lacks scope crm.schemas.deals.write") }]);
      expect(row.rows[0].error_message).toContain("hubsync_local_id");
      expect((await sim.control.listRecords("deals")).filter((r) => r.properties.dealname === "New deal")).toHaveLength(0);
    } finally {
      await sim.control.configure({ missingScopes: [] });
    }
    // the scope granted: the create goes with the next push
    await db.pool.query(`update hubsync.outbox set next_attempt_at = now() where status = 'pending'`);
    expect(await runPush(deps, "deals", { coalesceMs: 0 })).toMatchObject({ sent: 1 });
    expect((await sim.control.listRecords("deals")).filter((r) => r.properties.dealname === "New deal")).toHaveLength(1);
  });

  it("a type the credentials cannot write: the change waits with the write scope named on its outbox row", async () => {
    await sim.control.configure({ missingScopes: [{ pathPrefix: "/crm/v3/objects/deals/batch", method: "POST", scope: "crm.objects.deals.write" }] });
    try {
      await db.pool.query(`update hubspot.deals set dealname = 'Not allowed' where dealname = 'Renamed'`);
      await runPush(deps, "deals", { coalesceMs: 0 });
      const row = await db.pool.query(`select status, error_message from hubsync.outbox where object_type = 'deals' and changes ->> 'dealname' = 'Not allowed'`);
      expect(row.rows).toEqual([{ status: "pending", error_message: expect.stringContaining("lacks scope crm.objects.deals.write") }]);
    } finally {
      await sim.control.configure({ missingScopes: [] });
    }
  });
});
