import { afterAll, beforeAll, expect, it } from "vitest";
import type { Runner } from "graphile-worker";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { createHubSpotApi, type HubSpotApi } from "../src/core/hubspot/client.ts";
import { createLogger } from "../src/core/log.ts";
import { createPool } from "../src/core/db/pool.ts";
import type pg from "pg";
import { discover } from "../src/core/schema/discover.ts";
import { cycleObject } from "../src/core/pull/cycle.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { drained, startPushWorker } from "./support/push.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let hubspot: HubSpotApi;
let worker: Runner;
let workerPool: pg.Pool;
const log = createLogger({ level: "silent" });

interface LoggedRequest {
  method: string;
  path: string;
  at: number | string;
}
const atMs = (r: LoggedRequest) => (typeof r.at === "number" ? r.at : Date.parse(r.at));

beforeAll(async () => {
  db = await installedDatabase("push_latency");
  sim = await startSimulator({ rateLimits: false });
  hubspot = createHubSpotApi({ accessToken: sim.token, basePath: sim.url, pool: db.pool, log });
  workerPool = createPool(db.url, { max: 8, applicationName: "push test worker" });
  const ctx = { pool: workerPool, hubspot, log };
  for (let i = 0; i < 1000; i += 100) {
    await hubspot.request("general", {
      method: "POST",
      path: hubspot.paths.objects.batch("contacts", "create"),
      body: { inputs: Array.from({ length: 100 }, (_, j) => ({ properties: { email: `l${i + j}@lat.test`, firstname: "L" }, associations: [] })) },
    });
  }
  await db.pool.query(`select hubsync.enable_sync('contacts', array['email', 'firstname', 'lastname'], true)`);
  await discover(ctx, "contacts");
  const cycle = await cycleObject(ctx, "contacts");
  expect(cycle.error).toBeUndefined();
  worker = await startPushWorker(ctx);
  await drained(db.pool);
});

afterAll(async () => {
  await worker?.stop();
  await workerPool?.end();
  hubspot?.close();
  await sim?.close();
  await db?.drop();
});

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

// How long a commit waits for its HubSpot call is `hubsync bench`'s figure (commit-to-request p50/p95,
// goal under a second). Here each change must reach HubSpot; the figures are printed only when a
// test fails.

it("each committed change is sent to HubSpot in a batch call of its own, one commit after another", async () => {
  const ids = (await db.pool.query<{ id: string }>(`select id from hubspot.contacts order by id limit 30`)).rows.map((r) => r.id);
  const latencies: number[] = [];
  for (const [i, id] of ids.entries()) {
    await db.pool.query(`update hubspot.contacts set lastname = $2 where id = $1`, [id, `v${i}`]);
    const committed = Date.now();
    await drained(db.pool, 30_000);
    const reqs = ((await sim.control.requests({ since: committed - 5 })) as unknown as LoggedRequest[]).filter((r) =>
      r.path.startsWith("/crm/objects/2026-09/contacts/batch/update"),
    );
    expect(reqs.length).toBeGreaterThan(0);
    latencies.push(atMs(reqs[0]!) - committed);
  }
  const p50 = pct(latencies, 50);
  const p95 = pct(latencies, 95);
  console.log(`push latency commit→request over ${latencies.length} commits: p50 ${p50} ms, p95 ${p95} ms, max ${Math.max(...latencies)} ms`);
  expect(latencies).toHaveLength(30);
});

it("1,000 updated rows take 10 batch calls", async () => {
  const since = Date.now();
  await db.pool.query(`update hubspot.contacts set firstname = 'Bulk ' || id`);
  await drained(db.pool, 30_000);
  const reqs = ((await sim.control.requests({ since })) as unknown as LoggedRequest[]).filter((r) => !r.path.startsWith("/_sim"));
  const updates = reqs.filter((r) => r.path.startsWith("/crm/objects/2026-09/contacts/batch/update"));
  console.log(`API calls per 1,000 updated rows: ${reqs.length} (batch/update: ${updates.length})`);
  expect(updates).toHaveLength(10);
  const remote = (await sim.control.listRecords("contacts")) as Array<{ id: string; properties: Record<string, string> }>;
  expect(remote).toHaveLength(1000);
  expect(remote.filter((r) => r.properties.firstname !== `Bulk ${r.id}`)).toEqual([]);
});

it("a steady stream, 20 commits of 100 rows 250 ms apart with HubSpot answering in 50 ms: every wave is sent", async () => {
  await sim.control.configure({ latencyMs: 50 });
  try {
    const ids = (await db.pool.query<{ id: string }>(`select id from hubspot.contacts order by id`)).rows.map((r) => r.id);
    const commits: number[] = [];
    const since = Date.now();
    for (let k = 0; k < 20; k++) {
      const chunk = ids.slice((k * 100) % ids.length, ((k * 100) % ids.length) + 100);
      await db.pool.query(`update hubspot.contacts set lastname = $2 where id = any ($1)`, [chunk, `wave${k}`]);
      commits.push(Date.now());
      await new Promise((r) => setTimeout(r, 250));
    }
    await drained(db.pool, 30_000);
    const sentAt = await db.pool.query<{ wave: string; at: Date }>(
      `select changes ->> 'lastname' as wave, max(sent_at) as at from hubsync.outbox
        where changes ->> 'lastname' like 'wave%' and created_at >= to_timestamp($1 / 1000.0) group by 1`,
      [since - 1000],
    );
    const lat = sentAt.rows.map((r) => r.at.getTime() - commits[Number(r.wave.slice(4))]!);
    const reqs = ((await sim.control.requests({ since })) as unknown as LoggedRequest[]).filter((r) => r.path.startsWith("/crm/objects/2026-09/contacts/batch/update"));
    console.log(
      `steady stream (100 rows / 250 ms, 50 ms HubSpot latency): commit → sent p50 ${pct(lat, 50)} ms, p95 ${pct(lat, 95)} ms, max ${Math.max(...lat)} ms; ${reqs.length} batch/update calls for 2,000 rows\n`,
    );
    expect(lat).toHaveLength(20);
    // HubSpot holds every row's last wave (the 1,000 rows went through twice)
    const remote = (await sim.control.listRecords("contacts")) as Array<{ id: string; properties: Record<string, string> }>;
    const lastname = new Map(remote.map((r) => [r.id, r.properties.lastname]));
    expect(ids).toHaveLength(1000);
    expect(ids.filter((id, i) => lastname.get(id) !== `wave${10 + Math.floor(i / 100)}`)).toEqual([]);
  } finally {
    await sim.control.configure({ latencyMs: 0 });
  }
});
