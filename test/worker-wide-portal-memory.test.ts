import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYNCED_TYPES } from "../src/tools/shared/objects.ts";
import { startBenchSimulator, type BenchSim } from "../src/tools/shared/sim.ts";
import { failedObjects, initialCopyDone, readSnapshot } from "../src/tools/shared/snapshot.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { startWorkerProcess, type WorkerProcess } from "../src/tools/shared/worker-process.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";

/**
 * A portal as wide as HubSpot's own (about 380 contact properties, 230 to 260 on the other types):
 * every page a backfill reads holds tens of kilobytes per record, and the worker reads several
 * types at once, each through its list and its search ranges, each one page ahead of its writes.
 * Before, the list reader chained each page's embedded associations behind the previous page's
 * without waiting, and every chained write kept its whole page of records alive: when those writes
 * fell behind, pages piled up until `hubsync worker` ran out of its heap limit (Node's "heap out of
 * memory", the process gone; a heap snapshot at the limit showed 140 of 160 MB of records held by
 * that chain). Now one page's associations at most wait, and every page waits for room in the
 * worker's page memory before it is read.
 */
/** Small enough that the unbounded version ran out (checked: it did, at 30,000 records), with room for the worker's own 20 MB. */
const HEAP_MB = 112;
let sim: BenchSim;
let db: TestDatabase;
let worker: WorkerProcess | null = null;
const dir = mkdtempSync(join(tmpdir(), "hubsync-wide-"));
const logFile = join(dir, "worker.log");

beforeAll(async () => {
  // 30,000 records of the four types: contacts past the 10,000 at which search ranges join the list
  sim = await startBenchSimulator({ tier: "pro", latencyMs: { min: 0, max: 2 }, seedSize: 30_000, seed: 11, searchDisorder: false });
  db = await installedDatabase("wide_memory");
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await sim?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a wide portal's backfill", () => {
  it(`copies every record of four wide types at once within a ${HEAP_MB} MB heap`, async () => {
    const types = SYNCED_TYPES.map((t) => t.type);
    expect(sim.propertyCount("contacts")).toBeGreaterThan(300);
    worker = startWorkerProcess({ databaseUrl: db.url, hubspotUrl: sim.url, token: sim.token, logFile, env: { HUBSYNC_MAX_HEAP_MB: String(HEAP_MB), HUBSYNC_LOG_LEVEL: "info" } });
    await worker.ready;
    for (const t of types) await db.pool.query(`select hubsync.enable_sync($1)`, [t]);
    await waitFor(
      "the backfill of four wide types",
      async () => {
        const s = await readSnapshot(db.pool);
        const failed = failedObjects(s, types);
        if (failed.length) throw new Error(failed.map((o) => `${o.objectType}: ${o.lastError}`).join("; "));
        return initialCopyDone(s, types) ? s : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 500, failIf: () => worker!.died() },
    );
    expect(readFileSync(logFile, "utf8")).toContain(`"heapLimitMb":${HEAP_MB}`);
    for (const t of types) {
      const { rows } = await db.pool.query<{ n: number }>(`select count(*)::int as n from hubspot.${t}`);
      expect(rows[0]!.n, t).toBe((await sim.records(t)).length);
    }
  }, 300_000);
});
