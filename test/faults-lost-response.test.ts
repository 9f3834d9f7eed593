import { afterAll, beforeAll, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { runPush } from "../src/core/push/run.ts";
import { compareWithSimulator } from "../src/tools/verify/compare.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker } from "./support/worker.ts";

// Exactly-once creates, deterministically: HubSpot processes every request of a push (each retry
// included) but no answer ever arrives. Then the answers come back, and each SQL insert must be
// one HubSpot record, each update applied once, the copy equal to HubSpot record by record.

let db: TestDatabase;
let sim: RunningSimulator;
let deps: ReturnType<typeof connectWorker>;

beforeAll(async () => {
  db = await installedDatabase("faults_lost_response");
  sim = await startSimulator({ rateLimits: false, seed: { size: 300, seed: 4 } });
  deps = connectWorker(db.url, sim, { maxAttempts: 3, backoffBaseMs: 10, timeoutMs: 2_000 });
  await db.pool.query(`select hubsync.enable_sync('contacts', array['email', 'firstname', 'lastname'], true)`);
  expect((await cycleAll(deps, ["contacts"]))[0]!.phase).toBe("live");
});

afterAll(async () => {
  await deps?.close();
  await sim?.close();
  await db?.drop();
});

it("every answer lost, each request retried: 30 inserts are 30 HubSpot records, once the answers return the copy converges", async () => {
  const ids = (await db.pool.query<{ id: string }>(`select id from hubspot.contacts order by id limit 5`)).rows.map((r) => r.id);
  await db.pool.query(`insert into hubspot.contacts (email, firstname) select 'lost' || g || '@faults.test', 'Lost' from generate_series(1, 30) g`);
  await db.pool.query(`update hubspot.contacts set lastname = 'Sent blind' where id = any($1::text[])`, [ids]);

  // every batch write is processed and its answer lost (reads answer, so the push gets as far as sending)
  await sim.control.configure({ faults: { lostResponseRate: 1, faultPath: "/batch/" } });
  await sim.control.resetCounters();
  await runPush(deps, "contacts", { coalesceMs: 0 }).catch(() => {});
  const blind = await sim.control.requests();
  const upserts = blind.filter((r) => r.path.includes("/batch/upsert")).length;
  expect(upserts).toBeGreaterThanOrEqual(2); // HubSpot got the create more than once
  expect(blind.filter((r) => r.path.includes("/batch/")).every((r) => r.status === 0)).toBe(true);
  const created = () => sim.control.listRecords("contacts").then((rs) => rs.filter((r) => r.properties.email?.endsWith("@faults.test")));
  expect(await created()).toHaveLength(30);
  expect((await db.pool.query(`select count(*)::int as n from hubspot.contacts where id is null`)).rows[0].n).toBe(30);

  // the answers come back; the changes are due again (their backoff is over)
  await sim.control.configure({ faults: { lostResponseRate: 0, faultPath: "" } });
  await db.pool.query(`update hubsync.outbox set next_attempt_at = now() where status in ('pending', 'in_flight')`);
  await runPush(deps, "contacts", { coalesceMs: 0 });
  await cycleAll(deps, ["contacts"]);
  expect(await created()).toHaveLength(30);
  const r = await compareWithSimulator(db.pool, sim.control, ["contacts"]);
  console.log(`FAULT all answers lost: upserts_sent_blind=${upserts} requests_blind=${blind.length} records_compared=${r.records} ${r.summary}`);
  expect(r.ok).toBe(true);
  expect((await db.pool.query(`select status, count(*)::int as n from hubsync.outbox group by 1`)).rows).toEqual([{ status: "sent", n: 35 }]);
});
