import { afterAll, beforeAll, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { connectWorker, enableSync } from "./support/worker.ts";
import { installedDatabase } from "./support/database.ts";
import type { TestDatabase } from "./support/database.ts";

// hubsync.objects.lag_window_ms: how far behind the newest change already pulled each incremental
// pass searches again. HubSpot's search index can show a change minutes after it was made; a
// change stamped earlier than the watermark is caught only when it falls inside the window.

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;
const MINUTE = 60_000;

beforeAll(async () => {
  db = await installedDatabase("pull_lag_window");
  sim = await startSimulator({ rateLimits: false });
  // created two hours ago: each change below is newer than the copy of its record
  const created = Date.now() - 120 * MINUTE;
  for (let i = 0; i < 3; i++) await sim.control.createRecord("contacts", { email: `lag${i}@example.com`, firstname: `Lag${i}` }, { at: created });
  worker = connectWorker(db.url, sim);
  await enableSync(db.pool, "contacts", ["email", "firstname"]);
  // discovery, backfill and a first incremental pass (the hourly deep one)
  expect((await cycleAll(worker, ["contacts"])).map((c) => c.error ?? c.phase)).toEqual(["live"]);
});

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

const firstnames = async () =>
  Object.fromEntries((await db.pool.query<{ email: string; firstname: string }>(`select email, firstname from hubspot.contacts order by email`)).rows.map((r) => [r.email, r.firstname]));

it("re-scans the default 5 minutes behind the watermark, and as far as lag_window_ms says when it is set", async () => {
  const [a, b, c] = await sim.control.listRecords("contacts");
  const now = Date.now();
  // the newest change pulled so far sets the watermark
  await sim.control.updateRecord("contacts", a!.id, { firstname: "Watermark" }, { at: now });
  await cycleAll(worker, ["contacts"]);
  expect((await firstnames())["lag0@example.com"]).toBe("Watermark");

  // two changes that show up in search only now, stamped 3 and 10 minutes before the watermark
  await sim.control.updateRecord("contacts", b!.id, { firstname: "Three minutes late" }, { at: now - 3 * MINUTE });
  await sim.control.updateRecord("contacts", c!.id, { firstname: "Ten minutes late" }, { at: now - 10 * MINUTE });
  await cycleAll(worker, ["contacts"]);
  expect(await firstnames()).toEqual({ "lag0@example.com": "Watermark", "lag1@example.com": "Three minutes late", "lag2@example.com": "Lag2" });

  await db.pool.query(`update hubsync.objects set lag_window_ms = $1 where object_type = 'contacts'`, [15 * MINUTE]);
  await cycleAll(worker, ["contacts"]);
  expect(await firstnames()).toEqual({ "lag0@example.com": "Watermark", "lag1@example.com": "Three minutes late", "lag2@example.com": "Ten minutes late" });
  const { rows } = await db.pool.query(`select details ->> 'lagWindowMs' as lag from hubsync.runs where object_type = 'contacts' and kind = 'incremental' order by id desc limit 1`);
  expect(rows[0].lag).toBe(String(15 * MINUTE));
});
