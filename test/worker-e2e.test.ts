import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn, execFile } from "node:child_process";
import { promisify } from "node:util";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { waitFor as waitUntil } from "../src/tools/shared/wait.ts";

// What a DBA does: install, enable with SQL, run `hubsync worker` — and the tables fill up.
/** Polls until fn gives something truthy (the bench's waitFor, with this file's timeout). */
const waitFor = <T>(what: string, fn: () => Promise<T | null | undefined | false | 0>) =>
  waitUntil(what, async () => (await fn()) || undefined, { timeoutMs: 40000, intervalMs: 50 });

const ROOT = new URL("../", import.meta.url).pathname;
let d: TestDatabase;
let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ rateLimits: false });
  d = await installedDatabase("worker_e2e");
});
afterAll(async () => {
  await d?.drop();
  await sim?.close();
});


describe("hubsync worker against the simulator", () => {
  it("enable_sync + a running worker: discovery, backfill, live, an incremental change, then a clean stop", async () => {
    for (let i = 0; i < 25; i++) await sim.control.createRecord("contacts", { email: `p${i}@example.com`, firstname: `P${i}` });
    for (let i = 0; i < 5; i++) await sim.control.createRecord("companies", { name: `Co ${i}`, domain: `co${i}.example.com` });
    await d.pool.query("select hubsync.enable_sync('contacts'), hubsync.enable_sync('companies')");

    let out = "";
    const env = { ...process.env, DATABASE_URL: d.url, HUBSPOT_BASE_URL: sim.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSYNC_LOG_LEVEL: "info" };
    const proc = spawn(process.execPath, ["src/cli/hubsync.ts", "worker"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout.on("data", (b) => (out += b));
    proc.stderr.on("data", (b) => (out += b));
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => proc.on("exit", (code, signal) => r({ code, signal })));
    try {
      const live = async () =>
        (await d.pool.query("select object_type, phase, rows::int from hubsync.status where object_type in ('contacts','companies') order by 1")).rows;
      await waitFor("both object types live", async () => {
        const rows = await live();
        return rows.length === 2 && rows.every((r) => r.phase === "live") && rows;
      }).catch((err) => {
        throw new Error(`${err.message}\n${out.slice(-4000)}`);
      });
      expect(await live()).toEqual([
        { object_type: "companies", phase: "live", rows: 5 },
        { object_type: "contacts", phase: "live", rows: 25 },
      ]);

      // A change in HubSpot arrives through an incremental pull run by the worker.
      const [first] = await sim.control.listRecords("contacts");
      await sim.control.updateRecord("contacts", first!.id, { firstname: "Changed" });
      await d.pool.query("select hubsync_worker.add_job('hubsync_pull', json_build_object('objectType', 'contacts'), job_key := 'hubsync_pull:contacts')");
      await waitFor("the change", async () => (await d.pool.query("select 1 from hubspot.contacts where id = $1 and firstname = 'Changed'", [first!.id])).rowCount);

      const { stdout } = await promisify(execFile)(process.execPath, ["src/cli/hubsync.ts", "status"], { cwd: ROOT, env });
      expect(stdout).toMatch(/^contacts\s+yes\s+off\s+live\s+25\s/m);
    } finally {
      proc.kill("SIGTERM");
    }
    expect(await exited, out.slice(-4000)).toEqual({ code: 0, signal: null });
    const locked = await d.pool.query("select count(*)::int as n from hubsync_worker._private_jobs where locked_at is not null");
    expect(locked.rows[0].n).toBe(0);
    // Each job the worker ran is in its log.
    expect(out).toMatch(/Completed task \d+ \(hubsync_discover/);
    expect(out).toMatch(/Completed task \d+ \(hubsync_backfill/);
  });
});
