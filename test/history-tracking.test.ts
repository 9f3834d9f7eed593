import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { pullIncremental } from "../src/core/pull/incremental.ts";
import { runHistory } from "../src/core/history/read.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker } from "./support/worker.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;
const ids: string[] = [];
const DEALS = 120;
/** The stage changes made to ids[0] before tracking began (HubSpot's times). */
const early: Array<{ stage: string; at: string }> = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const historyCalls = async () => Number((await db.pool.query(`select history_calls from hubsync.objects where object_type = 'deals'`)).rows[0].history_calls);
const versions = async (id: string, property: string) =>
  (
    await db.pool.query(
      `select value, valid_from, valid_to, source_type, updated_by_user_id from hubspot.deals_history where record_id = $1 and property = $2 order by valid_from`,
      [id, property],
    )
  ).rows.map((r) => ({ ...r, valid_from: r.valid_from.toISOString(), valid_to: r.valid_to?.toISOString() ?? null }));

beforeAll(async () => {
  db = await installedDatabase("history_tracking");
  sim = await startSimulator({ rateLimits: false });
  worker = connectWorker(db.url, sim);
  for (let i = 0; i < DEALS; i++) {
    ids.push((await sim.control.createRecord("deals", { dealname: `Deal ${i}`, amount: String(10 * i), pipeline: "default", dealstage: "appointmentscheduled" })).id);
  }
  for (const stage of ["qualifiedtobuy", "presentationscheduled"]) {
    await sleep(5);
    early.push({ stage, at: (await sim.control.updateRecord("deals", ids[0]!, { dealstage: stage }, { userId: 7 })).updatedAt });
  }
  await db.pool.query(`select hubsync.enable_sync('deals', array['dealname', 'amount', 'dealstage', 'pipeline'])`);
  await db.pool.query(`select hubsync.enable_sync('pipelines')`);
  const first = await cycleAll(worker, ["deals", "pipelines"]);
  expect(first.filter((r) => r.error)).toEqual([]);
});

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

describe("the simulator keeps each property's history", () => {
  it("serves every version, newest first, on the legacy and the dated list and batch read, with list pages of at most 50", async () => {
    const headers = { authorization: `Bearer ${sim.token}`, "content-type": "application/json" };
    for (const path of ["/crm/v3/objects/deals", "/crm/objects/2026-03/deals"]) {
      const list = await fetch(`${sim.url}${path}?limit=50&propertiesWithHistory=dealstage`, { headers });
      expect(list.status).toBe(200);
      const first = ((await list.json()) as { results: Array<{ id: string; propertiesWithHistory: Record<string, Array<{ value: string; sourceType: string; updatedByUserId?: number }>> }> }).results.find((r) => r.id === ids[0]);
      expect(first!.propertiesWithHistory.dealstage!.map((v) => v.value)).toEqual(["presentationscheduled", "qualifiedtobuy", "appointmentscheduled"]);
      expect(first!.propertiesWithHistory.dealstage![0]).toMatchObject({ sourceType: "CRM_UI", updatedByUserId: 7 });
      const tooMany = await fetch(`${sim.url}${path}?limit=100&propertiesWithHistory=dealstage`, { headers });
      expect(tooMany.status).toBe(400);
      await tooMany.text();
      const batch = await fetch(`${sim.url}${path}/batch/read`, { method: "POST", headers, body: JSON.stringify({ inputs: [{ id: ids[0] }], properties: [], propertiesWithHistory: ["dealstage"] }) });
      const read = (await batch.json()) as { results: Array<{ propertiesWithHistory: Record<string, unknown[]> }> };
      expect(read.results[0]!.propertiesWithHistory.dealstage).toHaveLength(3);
    }
  });
});

describe("hubsync.track_history", () => {
  it("refuses what it cannot keep, with a hint", async () => {
    await expect(db.pool.query(`select hubsync.track_history('pipelines', array['label'])`)).rejects.toThrow(/no property history/);
    await expect(db.pool.query(`select hubsync.track_history('tickets', array['hs_pipeline_stage'])`)).rejects.toThrow(/never been enabled/);
    await expect(db.pool.query(`select hubsync.track_history('deals', array[]::text[])`)).rejects.toThrow(/needs property names/);
  });

  it("first reads every record's whole history in list pages of 50, and queues its task", async () => {
    const msg = (await db.pool.query(`select hubsync.track_history('deals', array['dealstage', 'amount', 'hubspot_owner_id']) as m`)).rows[0].m;
    expect(msg).toMatch(/reading the history of amount, dealstage, hubspot_owner_id/);
    const job = await db.pool.query(`select queue_name from hubsync_worker.jobs where key = 'hubsync_history:deals'`);
    expect(job.rows).toEqual([{ queue_name: "hubsync:history" }]);
    const status = (await db.pool.query(`select history_properties from hubsync.status where object_type = 'deals'`)).rows[0];
    expect(status.history_properties).toContain("dealstage (reading)");

    const since = Date.now();
    await runHistory(worker, "deals");
    const reqs = (await sim.control.requests({ since })) as Array<{ method: string; path: string }>;
    const lists = reqs.filter((r) => r.method === "GET" && /\/objects\/(v3\/|\d{4}-\d{2}\/)?deals(\?|$)/.test(r.path.replace("/crm/v3/objects", "/objects")));
    expect(lists.map((r) => new URLSearchParams(r.path.split("?")[1]).get("limit"))).toEqual(["50", "50", "50"]);
    expect(await historyCalls()).toBe(Math.ceil(DEALS / 50));
    const stages = await versions(ids[0]!, "dealstage");
    expect(stages.map((v) => v.value)).toEqual(["appointmentscheduled", "qualifiedtobuy", "presentationscheduled"]);
    expect(stages[1]).toMatchObject({ valid_from: early[0]!.at, valid_to: early[1]!.at, source_type: "CRM_UI", updated_by_user_id: "7" });
    expect(stages[2]).toMatchObject({ valid_from: early[1]!.at, valid_to: null });
    const rows = (await db.pool.query(`select count(distinct record_id)::int as n from hubspot.deals_history where property = 'amount'`)).rows[0].n;
    expect(rows).toBe(DEALS);
    const after = (await db.pool.query(`select history_properties, history_calls from hubsync.status where object_type = 'deals'`)).rows[0];
    expect(after.history_properties).toEqual(["amount", "dealstage", "hubspot_owner_id"]);
    expect(Number(after.history_calls)).toBe(Math.ceil(DEALS / 50));
  });

  it("a stage changed four times between two pulls: all four versions, with valid_from and valid_to from HubSpot's times", async () => {
    const deal = ids[1]!;
    const changes: Array<{ stage: string; at: string }> = [];
    for (const stage of ["qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent"]) {
      await sleep(5);
      changes.push({ stage, at: (await sim.control.updateRecord("deals", deal, { dealstage: stage })).updatedAt });
    }
    const calls = await historyCalls();
    await pullIncremental(worker, "deals");
    expect((await db.pool.query(`select count(*)::int as n from hubsync.history_queue where record_id = $1`, [deal])).rows[0].n).toBe(1);
    await runHistory(worker, "deals");
    expect(await historyCalls()).toBe(calls + 1);
    const stages = await versions(deal, "dealstage");
    expect(stages.slice(1)).toEqual(
      changes.map((c, i) => ({ value: c.stage, valid_from: c.at, valid_to: changes[i + 1]?.at ?? null, source_type: "CRM_UI", updated_by_user_id: null })),
    );
    expect(stages[0]).toMatchObject({ value: "appointmentscheduled", valid_to: changes[0]!.at });

    // as of a moment between the second and third change: the earlier value
    const between = new Date((Date.parse(changes[1]!.at) + Date.parse(changes[2]!.at)) / 2).toISOString();
    const then = (await db.pool.query(`select * from hubspot.deals_as_of($1) where id = $2`, [between, deal])).rows[0];
    expect(then).toEqual({ id: deal, amount: "10", dealstage: "presentationscheduled", hubspot_owner_id: null });
    const now = (await db.pool.query(`select dealstage from hubspot.deals_as_of(now()) where id = $1`, [deal])).rows[0];
    expect(now.dealstage).toBe("contractsent");
    // before the deal existed: no row
    expect((await db.pool.query(`select * from hubspot.deals_as_of('2000-01-01') where id = $1`, [deal])).rows).toEqual([]);

    // time in each stage
    const timing = (
      await db.pool.query(
        `select stage_id, stage_label, pipeline_id, entered_at, exited_at, extract(epoch from time_in_stage) * 1000 as ms
           from hubspot.deal_stage_history where deal_id = $1 order by entered_at`,
        [deal],
      )
    ).rows;
    expect(timing.map((t) => t.stage_id)).toEqual(["appointmentscheduled", ...changes.map((c) => c.stage)]);
    expect(timing[2]).toMatchObject({ stage_id: "presentationscheduled", stage_label: "Presentation Scheduled", pipeline_id: "default" });
    expect(Number(timing[2].ms)).toBe(Date.parse(changes[2]!.at) - Date.parse(changes[1]!.at));
    expect(timing[4].exited_at).toBeNull();

    // the README's funnel query: the median of the two deals that left "qualified to buy"
    const funnel = (
      await db.pool.query(
        `select pipeline_label, stage_label,
                round((percentile_cont(0.5) within group (order by extract(epoch from time_in_stage)) / 86400)::numeric, 1) as median_days,
                count(*) as deals,
                percentile_cont(0.5) within group (order by extract(epoch from time_in_stage)) * 1000 as median_ms
           from hubspot.deal_stage_history
          where exited_at is not null
          group by pipeline_id, pipeline_label, stage_id, stage_label, stage_order
          order by pipeline_label, stage_order`,
      )
    ).rows;
    const qualified = funnel.find((f) => f.stage_label === "Qualified To Buy");
    expect(qualified).toMatchObject({ pipeline_label: "Sales Pipeline", deals: "2", median_days: "0.0" });
    const spent = [Date.parse(early[1]!.at) - Date.parse(early[0]!.at), Date.parse(changes[1]!.at) - Date.parse(changes[0]!.at)];
    expect(Math.abs(qualified.median_ms - (spent[0]! + spent[1]!) / 2)).toBeLessThan(1);
    expect(funnel.map((f) => f.stage_label)).toEqual(["Appointment Scheduled", "Qualified To Buy", "Presentation Scheduled", "Decision Maker Bought-In"]);
  });

  it("re-reads at most one call per 100 changed records, with three tracked properties", async () => {
    for (const id of ids.slice(0, 110)) await sim.control.updateRecord("deals", id, { amount: "1" });
    const calls = await historyCalls();
    await pullIncremental(worker, "deals");
    await runHistory(worker, "deals");
    expect(await historyCalls()).toBe(calls + 2);
    expect((await db.pool.query(`select count(*)::int as n from hubsync.history_queue`)).rows[0].n).toBe(0);
    expect((await versions(ids[50]!, "amount")).map((v) => v.value)).toEqual(["500", "1"]);
  });

  it("is read-only to hubspot_writer; untrack_history stops it and keeps the versions", async () => {
    const c = await db.pool.connect();
    try {
      await c.query("begin");
      await c.query("set local role hubspot_writer");
      await expect(c.query(`delete from hubspot.deals_history`)).rejects.toThrow(/permission denied/);
      await c.query("rollback");
      await c.query("begin");
      await c.query("set local role hubspot_reader");
      expect((await c.query(`select count(*)::int as n from hubspot.deal_stage_history`)).rows[0].n).toBeGreaterThan(0);
      await c.query("rollback");
    } finally {
      c.release();
    }
    await expect(db.pool.query(`select hubsync.untrack_history('deals', array['closedate'])`)).rejects.toThrow(/none of closedate is tracked/);
    const msg = (await db.pool.query(`select hubsync.untrack_history('deals', array['amount']) as m`)).rows[0].m;
    expect(msg).toMatch(/amount no longer kept/);
    const cols = (await db.pool.query(`select * from hubspot.deals_as_of(now()) limit 1`)).fields.map((f) => f.name);
    expect(cols).toEqual(["id", "dealstage", "hubspot_owner_id"]);
    expect((await db.pool.query(`select count(*)::int as n from hubspot.deals_history where property = 'amount'`)).rows[0].n).toBeGreaterThan(0);
  });
});
