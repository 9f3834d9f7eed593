import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { reconcile } from "../src/core/pull/reconcile.ts";
import { runPush } from "../src/core/push/run.ts";
import { compareWithSimulator } from "../src/tools/verify/compare.ts";
import { connectWorker } from "./support/worker.ts";
import { installedDatabase } from "./support/database.ts";
import type { TestDatabase } from "./support/database.ts";

// HubSpot merges two contacts into a new record with a new id while a local edit of one of them
// waits to be pushed, or while the push carrying it is on its way. The edit must reach the new
// record (or lose to HubSpot's value only where the conflict policy says so), and the copy must
// end equal to HubSpot record by record.

let db: TestDatabase;
let sim: RunningSimulator;
let deps: ReturnType<typeof connectWorker>;
let n = 0;

beforeAll(async () => {
  db = await installedDatabase("merges");
  sim = await startSimulator({ rateLimits: false });
  deps = connectWorker(db.url, sim, { maxAttempts: 2, backoffBaseMs: 10, timeoutMs: 5_000 });
  await db.pool.query(`select hubsync.enable_sync('contacts', array['email', 'firstname', 'lastname', 'city'], true)`);
  expect((await cycleAll(deps, ["contacts"]))[0]!.phase).toBe("live");
});

afterAll(async () => {
  await deps?.close();
  await sim?.close();
  await db?.drop();
});

const pull = async () => expect((await cycleAll(deps, ["contacts"])).map((c) => c.error ?? "ok")).toEqual(["ok"]);
const push = () => runPush(deps, "contacts", { coalesceMs: 0 });

/** A primary and a secondary contact in HubSpot, both pulled; the secondary is the one edited locally. */
async function pair(primary: Record<string, string> = {}) {
  const k = ++n;
  const p = await sim.control.createRecord("contacts", { email: `p${k}@merge.test`, firstname: "Pat", lastname: "Same", ...primary });
  const s = await sim.control.createRecord("contacts", { email: `s${k}@merge.test`, firstname: "Sam", lastname: "Same", city: "Secondary town" });
  await pull();
  return { p: p.id, s: s.id };
}

async function editLocally(id: string) {
  const r = await db.pool.query(`update hubspot.contacts set firstname = 'Local first', lastname = 'Local last' where id = $1`, [id]);
  expect(r.rowCount).toBe(1);
}

async function settleAndCompare(label: string) {
  await pull();
  await push();
  const r = await compareWithSimulator(db.pool, sim.control, ["contacts"]);
  console.log(`MERGE ${label}: ${r.summary}`);
  expect(r.ok, r.summary).toBe(true);
  const rejected = await db.pool.query(`select record_id, error_message from hubsync.outbox where status = 'rejected'`);
  expect(rejected.rows).toEqual([]);
  const waiting = await db.pool.query(`select count(*)::int as n from hubsync.outbox where status in ('pending', 'in_flight')`);
  expect(waiting.rows[0].n).toBe(0);
}

async function afterMerge(ids: { p: string; s: string }, mergedId: string) {
  const rows = await db.pool.query<{ id: string; firstname: string; lastname: string; city: string }>(
    `select id, firstname, lastname, city from hubspot.contacts where id = any ($1::text[]) order by id`,
    [[ids.p, ids.s, mergedId]],
  );
  const merges = await db.pool.query(`select merged_id, winner_id from hubsync.merges where merged_id = any ($1::text[]) order by merged_id`, [[ids.p, ids.s]]);
  expect(merges.rows).toEqual([ids.p, ids.s].sort().map((id) => ({ merged_id: id, winner_id: mergedId })));
  const hubspot = (await sim.control.getRecord("contacts", mergedId))!;
  return { rows: rows.rows, hubspot: hubspot.properties };
}

describe("a merge in HubSpot while a local update of the merged-away contact waits", () => {
  // firstname: the primary's value differs from the one the local edit started from (a conflict);
  // lastname: the primary has the value the local edit started from (no conflict: the edit goes through).
  const expected: Record<string, string> = { hubspot_wins: "Pat", postgres_wins: "Local first", latest_wins: "Pat", merge: "Pat" };
  for (const policy of ["hubspot_wins", "postgres_wins", "latest_wins", "merge"]) {
    for (const order of ["pull first", "push first"] as const) {
      it(`${policy}, ${order}: the edit reaches the new record as the policy says, nothing is rejected`, async () => {
        await db.pool.query(`update hubsync.objects set conflict_policy = $1 where object_type = 'contacts'`, [policy]);
        const ids = await pair({ firstname: "Pat" });
        await editLocally(ids.s);
        const merged = await sim.control.mergeRecords("contacts", ids.p, ids.s);
        expect([ids.p, ids.s]).not.toContain(merged.id);
        if (order === "pull first") {
          await pull();
          await push();
        } else {
          // the push meets the merge first: HubSpot's batch update leaves the old id out
          const first = await push();
          expect(first.rejected).toBe(0);
        }
        await settleAndCompare(`${policy}/${order}`);
        const { rows, hubspot } = await afterMerge(ids, merged.id);
        expect(hubspot.lastname).toBe("Local last");
        expect(hubspot.firstname).toBe(expected[policy]);
        expect(hubspot.city).toBe("Secondary town");
        expect(rows).toEqual([{ id: merged.id, firstname: expected[policy], lastname: "Local last", city: "Secondary town" }]);
        const conflicts = await db.pool.query(`select property, winner from hubsync.conflicts where local_value = 'Local first' and record_id = $1`, [merged.id]);
        expect(conflicts.rows).toEqual([{ property: "firstname", winner: policy === "postgres_wins" ? "postgres" : "hubspot" }]);
      });
    }
  }

  it("under each way HubSpot may refuse an old id in batch update (reported, or the whole batch refused)", async () => {
    await db.pool.query(`update hubsync.objects set conflict_policy = 'hubspot_wins' where object_type = 'contacts'`);
    try {
      for (const mode of ["notFound", "refuse"] as const) {
        await sim.control.configure({ mergedIdBatchUpdate: mode });
        const ids = await pair();
        const bystander = await pair();
        await editLocally(ids.s);
        await db.pool.query(`update hubspot.contacts set city = 'Bystander city' where id = $1`, [bystander.p]);
        const merged = await sim.control.mergeRecords("contacts", ids.p, ids.s);
        const first = await push();
        expect(first.rejected).toBe(0);
        await settleAndCompare(`mergedIdBatchUpdate=${mode}`);
        expect((await afterMerge(ids, merged.id)).hubspot.lastname).toBe("Local last");
        expect((await sim.control.getRecord("contacts", bystander.p))!.properties.city).toBe("Bystander city");
      }
    } finally {
      await sim.control.configure({ mergedIdBatchUpdate: "omit" });
    }
  });

  it("a merge the reconciliation finds first: the row is re-keyed before old ids are taken for gone", async () => {
    await db.pool.query(`update hubsync.objects set conflict_policy = 'hubspot_wins' where object_type = 'contacts'`);
    const ids = await pair();
    await editLocally(ids.s);
    const merged = await sim.control.mergeRecords("contacts", ids.p, ids.s);
    await reconcile(deps, "contacts");
    expect((await db.pool.query(`select id from hubspot.contacts where id = any ($1::text[])`, [[ids.p, ids.s, merged.id]])).rows).toEqual([{ id: merged.id }]);
    await push();
    await settleAndCompare("reconcile");
    const { hubspot } = await afterMerge(ids, merged.id);
    expect(hubspot.lastname).toBe("Local last");
    expect(hubspot.firstname).toBe("Pat"); // the conflict was settled by the policy, not skipped

  });

  it("an update of a record HubSpot archived (not merged) is still rejected, after one read of its id", async () => {
    const ids = await pair();
    await editLocally(ids.s);
    await sim.control.archiveRecord("contacts", ids.s);
    await sim.control.resetCounters();
    const result = await push();
    expect(result.rejected).toBe(1);
    const reads = (await sim.control.requests()).filter((r) => r.path.includes("/batch/read"));
    expect(reads).toHaveLength(1);
    const rows = await db.pool.query(`select status, error_category from hubsync.outbox where record_id = $1 and op = 'update'`, [ids.s]);
    expect(rows.rows).toEqual([{ status: "rejected", error_category: "OBJECT_NOT_FOUND" }]);
    await pull();
    expect((await db.pool.query(`select id from hubspot.contacts where id = $1`, [ids.s])).rows).toEqual([]);
    await db.pool.query(`delete from hubsync.outbox where record_id = $1`, [ids.s]);
  });

  for (const order of ["pull first", "push first"] as const) {
  it(`a local delete of the merged-away contact deletes the new record (${order})`, async () => {
    const ids = await pair();
    await db.pool.query(`delete from hubspot.contacts where id = $1`, [ids.s]);
    const merged = await sim.control.mergeRecords("contacts", ids.p, ids.s);
    if (order === "pull first") await pull();
    // push first: HubSpot answers the archive of the old id as done, and nothing is archived
    await push();
    await settleAndCompare(`local delete, ${order}`);
    expect((await sim.control.getRecord("contacts", merged.id))!.archived).toBe(true);
    expect((await db.pool.query(`select id from hubspot.contacts where id = any ($1::text[])`, [[ids.p, ids.s, merged.id]])).rows).toEqual([]);
  });
  }
});

describe("a merge between a push's send and its answer", () => {
  it("the merge lands while the update is on its way: HubSpot refuses the old id, the edit goes to the new record", async () => {
    await db.pool.query(`update hubsync.objects set conflict_policy = 'hubspot_wins' where object_type = 'contacts'`);
    const ids = await pair();
    await editLocally(ids.s);
    await sim.control.configure({ latencyMs: 1_500 });
    let mergedAt = 0;
    let mergedId = "";
    try {
      const pushing = push();
      // the push has claimed the change; its batch update now waits in HubSpot's latency
      for (let i = 0; i < 200; i++) {
        const r = await db.pool.query(`select 1 from hubsync.outbox where status = 'in_flight' and record_id = $1`, [ids.s]);
        if (r.rowCount) break;
        await new Promise((res) => setTimeout(res, 25));
      }
      await new Promise((res) => setTimeout(res, 300));
      mergedAt = Date.now();
      mergedId = (await sim.control.mergeRecords("contacts", ids.p, ids.s)).id;
      // the update already waits out its latency; what the push sends after the refusal need not
      await sim.control.configure({ latencyMs: 0 });
      const result = await pushing;
      expect(result.rejected).toBe(0);
    } finally {
      await sim.control.configure({ latencyMs: 0 });
    }
    const updates = (await sim.control.requests()).filter((r) => r.path.includes("/batch/update"));
    expect(updates.some((r) => r.at < mergedAt)).toBe(true); // it was sent before the merge
    await settleAndCompare("merge during send");
    const { hubspot } = await afterMerge(ids, mergedId);
    expect(hubspot.lastname).toBe("Local last");
    expect(hubspot.firstname).toBe("Pat");
  });

  it("HubSpot wrote the update, then the merge and a pull came before the answer was committed: the row keeps the new id", async () => {
    const ids = await pair({ lastname: "" });
    await editLocally(ids.s);
    let mergedId = "";
    const result = await runPush(deps, "contacts", {
      coalesceMs: 0,
      onAnswered: async () => {
        if (mergedId) return;
        mergedId = (await sim.control.mergeRecords("contacts", ids.p, ids.s)).id;
        await pull();
      },
    });
    expect(result.sent).toBe(1);
    await settleAndCompare("merge before the answer was committed");
    const { rows, hubspot } = await afterMerge(ids, mergedId);
    // the edit reached the old record before the merge; the primary had no last name, so the new record took it
    expect(hubspot.lastname).toBe("Local last");
    expect(rows.map((r) => r.id)).toEqual([mergedId]);
  });
});
