import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { Runner } from "graphile-worker";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { pullIncremental } from "../src/core/pull/incremental.ts";
import { pullArchived } from "../src/core/pull/archived.ts";
import { reconcile } from "../src/core/pull/reconcile.ts";
import { prune } from "../src/core/retention.ts";
import { applyWebhookEvents } from "../src/core/webhooks/apply.ts";
import { insertBatch } from "../src/core/webhooks/inbox.ts";
import { event } from "./support/webhooks.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker, quietLog } from "./support/worker.ts";
import { drained, startPushWorker } from "./support/push.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;
let listener: pg.Client;
const notes: Array<Record<string, unknown>> = [];
const ids: string[] = [];

beforeAll(async () => {
  db = await installedDatabase("history_changes");
  sim = await startSimulator({ rateLimits: false });
  worker = connectWorker(db.url, sim);
  for (let i = 0; i < 7; i++) {
    ids.push((await sim.control.createRecord("deals", { dealname: `Deal ${i}`, amount: String(100 * i), pipeline: "default", dealstage: "appointmentscheduled" })).id);
  }
  await db.pool.query(`select hubsync.enable_sync('deals', array['dealname', 'amount', 'dealstage', 'pipeline'], true)`);
  const first = await cycleAll(worker, ["deals"]);
  expect(first.filter((r) => r.error)).toEqual([]);
  listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  listener.on("notification", (n) => {
    if (n.channel === "hubsync_changes") notes.push(JSON.parse(n.payload ?? "{}"));
  });
  await listener.query("listen hubsync_changes");
});

afterAll(async () => {
  await listener?.end();
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

/** Waits (no polling of the table: the notification arrives on the LISTEN connection) for a payload naming `id`. */
async function notified(id: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const hit = notes.find((n) => Array.isArray(n.ids) && (n.ids as string[]).includes(id));
    if (hit) return hit;
    if (Date.now() > until) throw new Error(`no hubsync_changes notification for ${id}; got ${JSON.stringify(notes)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const changesOf = async (id: string) =>
  (await db.pool.query(`select * from hubsync.changes where object_type = 'deals' and record_id = $1 order by id`, [id])).rows;

describe("hubsync.changes and NOTIFY hubsync_changes", () => {
  it("the backfill logged each record as an insert, from the pull", async () => {
    const rows = await changesOf(ids[0]!);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ op: "insert", source: "pull", new_values: expect.objectContaining({ dealname: "Deal 0", dealstage: "appointmentscheduled" }) });
  });

  it("an edit made in HubSpot and pulled: one change row with old and new values and HubSpot's updatedAt, and one NOTIFY", async () => {
    notes.length = 0;
    const edited = await sim.control.updateRecord("deals", ids[1]!, { dealstage: "qualifiedtobuy" });
    await pullIncremental(worker, "deals");
    const note = await notified(ids[1]!);
    expect(note).toMatchObject({ type: "deals", types: ["deals"], count: 1 });
    expect(note.first_id).toBe(note.last_id);
    const rows = await changesOf(ids[1]!);
    const last = rows[rows.length - 1];
    expect(last).toMatchObject({ op: "update", source: "pull" });
    expect(String(last.id)).toBe(String(note.first_id));
    expect(last.old_values).toMatchObject({ dealstage: "appointmentscheduled" });
    expect(last.new_values).toMatchObject({ dealstage: "qualifiedtobuy" });
    expect(last.new_values).not.toHaveProperty("dealname");
    expect(new Date(last.hubspot_updated_at).toISOString()).toBe(edited.updatedAt);
    // one notification for the transaction, however many statements wrote in it
    expect(notes.filter((n) => Array.isArray(n.ids) && (n.ids as string[]).includes(ids[1]!))).toHaveLength(1);
  });

  it("an edit made in SQL is logged (and notified) when the push has written HubSpot's answer, with HubSpot's time", async () => {
    notes.length = 0;
    let push: Runner | undefined;
    try {
      await db.pool.query(`update hubspot.deals set amount = 4242 where id = $1`, [ids[2]]);
      // not in HubSpot yet: nothing logged for the local edit itself
      expect((await changesOf(ids[2]!)).map((r) => r.op)).toEqual(["insert"]);
      push = await startPushWorker(worker);
      await drained(db.pool);
      const note = await notified(ids[2]!);
      expect(note).toMatchObject({ type: "deals" });
    } finally {
      await push?.stop();
    }
    const rows = await changesOf(ids[2]!);
    const last = rows[rows.length - 1];
    expect(last).toMatchObject({ op: "update", source: "push", new_values: expect.objectContaining({ amount: "4242" }), old_values: expect.objectContaining({ amount: "200" }) });
    const inHubSpot = (await sim.control.listRecords("deals")).find((r: { id: string }) => r.id === ids[2]) as { updatedAt: string; properties: Record<string, string> };
    expect(inHubSpot.properties.amount).toBe("4242");
    expect(new Date(last.hubspot_updated_at).toISOString()).toBe(inHubSpot.updatedAt);
  });

  it("archives read from the recycle bin are deletes; the reconciliation says it was the reconciliation", async () => {
    await sim.control.archiveRecord("deals", ids[3]!);
    await pullArchived(worker, "deals");
    expect((await changesOf(ids[3]!)).at(-1)).toMatchObject({ op: "delete", source: "pull", old_values: expect.objectContaining({ dealname: "Deal 3" }) });
    await sim.control.archiveRecord("deals", ids[4]!);
    await reconcile(worker, "deals");
    expect((await changesOf(ids[4]!)).at(-1)).toMatchObject({ op: "delete", source: "reconcile" });
    // and a restored record comes back as a restore
    await sim.control.restoreRecord("deals", ids[3]!);
    await sim.control.updateRecord("deals", ids[3]!, { dealname: "Deal 3 again" });
    await pullIncremental(worker, "deals");
    expect((await changesOf(ids[3]!)).at(-1)).toMatchObject({ op: "restore", source: "pull" });
  });

  it("a change a webhook announced is logged as from the webhook; a merge as a merge", async () => {
    notes.length = 0;
    await sim.control.updateRecord("deals", ids[5]!, { dealname: "Renamed by a webhook" });
    await insertBatch(db.pool, [event("deal.propertyChange", { objectId: Number(ids[5]), propertyName: "dealname", propertyValue: "Renamed by a webhook" })]);
    await applyWebhookEvents(worker, { minIntervalMs: 0 });
    await notified(ids[5]!);
    expect((await changesOf(ids[5]!)).at(-1)).toMatchObject({ op: "update", source: "webhook", new_values: expect.objectContaining({ dealname: "Renamed by a webhook" }) });

    // deals keep the primary's id: the merged-away deal leaves as a merge, the primary is updated
    await sim.control.mergeRecords("deals", ids[6]!, ids[0]!);
    await pullIncremental(worker, "deals");
    expect((await changesOf(ids[0]!)).at(-1)).toMatchObject({ op: "merge", source: "pull" });
    expect((await changesOf(ids[6]!)).at(-1)).toMatchObject({ op: "update", new_values: expect.objectContaining({ hs_merged_object_ids: ids[0] }) });
    // the merge's notification too: arriving late, under load, it landed in the next test's list
    await notified(ids[0]!);
  });

  it("writes that are not the sync's own log nothing, and a rolled-back transaction notifies nothing", async () => {
    notes.length = 0;
    const before = (await db.pool.query(`select count(*)::int as n from hubsync.changes`)).rows[0].n;
    const c = await db.pool.connect();
    try {
      await c.query("begin");
      await c.query(`select set_config('hubsync.applying', 'on', true)`);
      await c.query(`update hubspot.deals set properties = properties || '{"dealname":"rolled back"}' where id = $1`, [ids[2]]);
      await c.query("rollback");
    } finally {
      c.release();
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(notes).toEqual([]);
    expect((await db.pool.query(`select count(*)::int as n from hubsync.changes`)).rows[0].n).toBe(before);
  });

  it("the hourly prune deletes changes older than the type's keep_changes, and keep_changes refuses nonsense", async () => {
    await db.pool.query(`select hubsync.keep_changes('deals', interval '2 days')`);
    await db.pool.query(`update hubsync.changes set applied_at = now() - interval '3 days' where record_id = $1`, [ids[1]]);
    const left = (await db.pool.query(`select count(*)::int as n from hubsync.changes where record_id <> $1`, [ids[1]])).rows[0].n;
    const old = (await changesOf(ids[1]!)).length;
    expect(old).toBeGreaterThan(0);
    const result = await prune(db.pool, quietLog);
    expect(result.deleted.changes).toBe(old);
    expect(await changesOf(ids[1]!)).toEqual([]);
    expect((await db.pool.query(`select count(*)::int as n from hubsync.changes`)).rows[0].n).toBe(left);
    await expect(db.pool.query(`select hubsync.keep_changes('deals', interval '-1 day')`)).rejects.toThrow(/positive interval/);
  });
});
