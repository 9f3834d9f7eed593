import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEARCH_DISORDER, startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import type { RunningWorker } from "../src/core/worker/runner.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { enableSync, startTestWorker } from "./support/worker.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let worker: RunningWorker | null = null;

const until = <T>(what: string, fn: () => Promise<T | null | undefined | false>) =>
  waitFor(what, async () => (await fn()) || undefined, { timeoutMs: 30_000, intervalMs: 200 });

beforeAll(async () => {
  db = await installedDatabase("pull_worker");
  sim = await startSimulator({ tier: "pro", faults: SEARCH_DISORDER });
  for (let i = 0; i < 150; i++) await sim.control.createRecord("contacts", { email: `w${i}@example.com`, firstname: `W${i}` });
  worker = await startTestWorker(db.url, sim);
});

afterAll(async () => {
  await worker?.stop();
  await sim?.close();
  await db?.drop();
});

describe("with the worker running", () => {
  it("enable_sync alone fills the table, then a pull job brings later changes", async () => {
    await enableSync(db.pool, "contacts");
    await until("contacts to go live", async () => {
      const { rows } = await db.pool.query(`select phase, last_error from hubsync.objects where object_type = 'contacts'`);
      if (rows[0].phase === "error") throw new Error(rows[0].last_error);
      return rows[0].phase === "live";
    });
    const { rows } = await db.pool.query(`select count(*)::int as n from hubspot.contacts`);
    expect(rows[0].n).toBe(150);

    const target = (await sim.control.listRecords("contacts"))[0]!.id;
    await sim.control.updateRecord("contacts", target, { firstname: "From the worker" });
    await db.pool.query(`select hubsync_worker.add_job('hubsync_pull_all', '{}'::json)`);
    await until("the change to arrive", async () => {
      const r = await db.pool.query(`select firstname from hubspot.contacts where id = $1`, [target]);
      return r.rows[0]?.firstname === "From the worker";
    });
    // The pull commits the rows before it records its run as finished: the run is read once it is.
    const runs = await until("the incremental runs to be recorded as finished", async () => {
      const r = await db.pool.query(`select kind, status from hubsync.runs where object_type = 'contacts' order by id`);
      const kinds = r.rows.map((row) => `${row.kind}:${row.status}`);
      const incremental = kinds.filter((k) => k.startsWith("incremental:"));
      return incremental.length > 0 && !incremental.includes("incremental:running") ? kinds : undefined;
    });
    expect(runs).toEqual(expect.arrayContaining(["backfill:ok", "incremental:ok"]));
  });
});
