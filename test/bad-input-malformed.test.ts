import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleObject } from "../src/core/pull/cycle.ts";
import { pullIncremental } from "../src/core/pull/incremental.ts";
import { runPush } from "../src/core/push/run.ts";
import { compareWithSimulator } from "../src/tools/verify/compare.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker, enableSync, quietLog } from "./support/worker.ts";

/**
 * HubSpot answers 200 with something that is not its documented JSON (the simulator's
 * "malformed" fault: cut-off JSON, or a record without an id and properties that are not an
 * object). The run fails with a sentence naming the endpoint and what was wrong, the table and the
 * cursor stay exactly as they were, and the next run after the fault picks everything up.
 */

let db: TestDatabase;
let sim: RunningSimulator;
let w: ReturnType<typeof connectWorker>;

beforeAll(async () => {
  db = await installedDatabase("bad_malformed");
  sim = await startSimulator({ rateLimits: false });
  for (let i = 0; i < 60; i++) await sim.control.createRecord("contacts", { email: `m${i}@example.com`, firstname: `M${i}` });
  w = connectWorker(db.url, sim);
  await enableSync(db.pool, "contacts");
  const first = await cycleObject(w, "contacts", { archived: false });
  expect(first.error).toBeUndefined();
  expect(first.phase).toBe("live");
});

afterAll(async () => {
  await w?.close();
  await sim?.close();
  await db?.drop();
});

async function snapshot() {
  const rows = await db.pool.query(`select id, email, firstname, properties, _sync_hash, updated_at, _sync_updated_at from hubspot.contacts order by id`);
  const cursors = await db.pool.query(`select object_type, stream, state, updated_at from hubsync.cursors order by 1, 2`);
  const object = await db.pool.query(`select phase, last_pull_at from hubsync.objects where object_type = 'contacts'`);
  return { rows: rows.rows, cursors: cursors.rows, object: object.rows };
}

async function failingPull(): Promise<string> {
  try {
    await pullIncremental(w, "contacts");
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected the pull to fail");
}

describe("malformed answers from HubSpot", () => {
  for (const kind of ["shape", "truncated"] as const) {
    it(`${kind}: an incremental pull fails naming the endpoint and the problem; table and cursor untouched`, async () => {
      const ids = (await sim.control.listRecords("contacts")).slice(0, 5).map((r) => r.id);
      for (const id of ids) await sim.control.updateRecord("contacts", id, { firstname: `Changed ${kind}` });
      const before = await snapshot();
      await sim.control.configure({ faults: { malformedRate: 1, malformedPath: "/search", malformedKind: kind } });
      let message: string;
      try {
        message = await failingPull();
      } finally {
        await sim.control.configure({ faults: { malformedRate: 0 } });
      }
      console.log(`MALFORMED ${kind}: ${message}`);
      expect(message).toContain("HubSpot sent a malformed answer to search contacts (POST /crm/objects/2026-09/contacts/search)");
      expect(message).toMatch(kind === "shape" ? /results\.0\.id: .*expected string/i : /not valid JSON/);
      expect(await snapshot()).toEqual(before);
      const run = await db.pool.query(`select status, error from hubsync.runs where object_type = 'contacts' order by id desc limit 1`);
      expect(run.rows[0]).toEqual({ status: "error", error: message });

      // the fault gone, the next pull brings the changes
      await pullIncremental(w, "contacts");
      const changed = await db.pool.query(`select count(*)::int as n from hubspot.contacts where firstname = $1`, [`Changed ${kind}`]);
      expect(changed.rows[0].n).toBe(5);
    });
  }

  it("a malformed property list stops discovery of a new type with the endpoint named; no table is created", async () => {
    await sim.control.createRecord("companies", { name: "Acme" });
    await enableSync(db.pool, "companies");
    await sim.control.configure({ faults: { malformedRate: 1, malformedPath: "/crm/properties/2026-09/companies", malformedKind: "shape" } });
    let cycle;
    try {
      cycle = await cycleObject(w, "companies", { archived: false });
    } finally {
      await sim.control.configure({ faults: { malformedRate: 0 } });
    }
    console.log(`MALFORMED properties: ${cycle.error}`);
    expect(cycle.error).toContain("HubSpot sent a malformed answer to properties companies (GET /crm/properties/2026-09/companies): results.0.name");
    const t = await db.pool.query(`select to_regclass('hubspot.companies') as t`);
    expect(t.rows[0].t).toBeNull();
    const status = await db.pool.query(`select phase, last_error from hubsync.status where object_type = 'companies'`);
    expect(status.rows[0].phase).toBe("error");
    expect(status.rows[0].last_error).toContain("properties companies");

    const again = await cycleObject(w, "companies", { archived: false });
    expect(again.error).toBeUndefined();
    expect((await db.pool.query(`select count(*)::int as n from hubspot.companies`)).rows[0].n).toBe(1);
  });

  it("a cut-off backfill page fails the run with nothing written; the next run completes the copy", async () => {
    for (let i = 0; i < 250; i++) await sim.control.createRecord("deals", { dealname: `D${i}` });
    await enableSync(db.pool, "deals");
    let cycle;
    const listPath = "/crm/objects/2026-09/deals";
    await sim.control.configure({ faults: { malformedRate: 1, malformedPath: listPath, malformedKind: "truncated" } });
    try {
      cycle = await cycleObject(w, "deals", { archived: false });
    } finally {
      await sim.control.configure({ faults: { malformedRate: 0 } });
    }
    expect(cycle.error).toContain("HubSpot sent a malformed answer to list deals");
    expect(cycle.error).toContain("not valid JSON");
    expect((await db.pool.query(`select count(*)::int as n from hubspot.deals`)).rows[0].n).toBe(0);
    const done = await cycleObject(w, "deals", { archived: false });
    expect(done.error).toBeUndefined();
    expect((await db.pool.query(`select count(*)::int as n from hubspot.deals`)).rows[0].n).toBe(250);
  });

  it("a malformed answer to a push keeps the changes pending with the reason; the retry creates nothing twice", async () => {
    await db.pool.query(`select hubsync.enable_write_back('contacts')`);
    const ctx = { pool: w.pool, hubspot: w.hubspot, log: quietLog };
    await runPush(ctx, "contacts", { coalesceMs: 0 }); // write-back's own set-up, fault-free
    await db.pool.query(`insert into hubspot.contacts (email, firstname) values ('pushed-malformed@example.com', 'Once')`);
    await db.pool.query(`update hubspot.contacts set firstname = 'Updated once' where email = 'm1@example.com'`);
    await sim.control.configure({ faults: { malformedRate: 1, malformedPath: "/batch/", malformedKind: "shape" } });
    try {
      const r = await runPush(ctx, "contacts", { coalesceMs: 0 });
      expect(r.sent).toBe(0);
    } finally {
      await sim.control.configure({ faults: { malformedRate: 0 } });
    }
    const waiting = await db.pool.query(`select op, status, error_message from hubsync.outbox where status <> 'sent' order by id`);
    expect(waiting.rows.map((r) => r.status)).toEqual(["pending", "pending"]);
    console.log(`MALFORMED push: ${waiting.rows[0].error_message}`);
    expect(waiting.rows[0].error_message).toMatch(/HubSpot sent a malformed answer to batch (upsert|update) contacts \(POST \/crm\/objects\/2026-09\/contacts\/batch\/(upsert|update)\): results\.0/);

    await db.pool.query(`update hubsync.outbox set next_attempt_at = now() where status = 'pending'`); // the backoff, elapsed
    const again = await runPush(ctx, "contacts", { coalesceMs: 0 });
    expect(again.sent).toBe(2);
    const records = await sim.control.listRecords("contacts");
    expect(records.filter((r) => r.properties.email === "pushed-malformed@example.com")).toHaveLength(1);
    expect(records.find((r) => r.properties.email === "m1@example.com")?.properties.firstname).toBe("Updated once");
  });

  it("with a fifth of all answers malformed, repeated sync cycles still end in an exact copy", async () => {
    for (let i = 0; i < 40; i++) await sim.control.createRecord("tickets", { subject: `T${i}` });
    await enableSync(db.pool, "tickets");
    const changed = (await sim.control.listRecords("contacts")).slice(10, 30);
    for (const r of changed) await sim.control.updateRecord("contacts", r.id, { lastname: "Under malformed answers" });
    await sim.control.configure({ faults: { malformedRate: 0.2, malformedPath: "", malformedKind: "mixed", seed: 5 } });
    const errors: string[] = [];
    let cycles = 0;
    try {
      for (; cycles < 30; cycles++) {
        const results = await Promise.all(["contacts", "deals", "companies", "tickets"].map((t) => cycleObject(w, t, { archived: false })));
        const failed = results.filter((r) => r.error);
        errors.push(...failed.map((r) => r.error!));
        if (failed.length === 0) break;
      }
    } finally {
      await sim.control.configure({ faults: { malformedRate: 0 } });
    }
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.filter((e) => !e.includes("HubSpot sent a malformed answer to"))).toEqual([]);
    const cmp = await compareWithSimulator(db.pool, sim.control, ["contacts", "deals", "companies", "tickets"], { createKey: null });
    console.log(`MALFORMED 20%: ${errors.length} failed runs over ${cycles + 1} cycles, then ${cmp.summary}`);
    expect(cmp.ok, cmp.summary).toBe(true);
  });
});
