import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { BenchOptions } from "../src/tools/bench/options.ts";
import { naiveBackfill, naiveHttp, NAIVE_SCHEMA } from "../src/tools/bench/naive.ts";
import { renderMarkdown } from "../src/tools/bench/report.ts";
import { runBench, writeResults } from "../src/tools/bench/run-bench.ts";
import { SYNCED_TYPES } from "../src/tools/shared/objects.ts";
import { startBenchSimulator } from "../src/tools/shared/sim.ts";
import { checkCopy } from "../src/tools/bench/verify.ts";
import { freshDatabase } from "./support/database.ts";

const out = mkdtempSync(join(tmpdir(), "hubsync-bench-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("hubsync bench (the --quick logic at tiny sizes)", () => {
  it("measures hubsync beside the naive script, checks both copies against the simulator, and writes the report", async () => {
    const opts = BenchOptions.parse({
      quick: true,
      tiers: ["pro"],
      backfillRecords: 300,
      changes: 40,
      pushRows: 100,
      naivePushSample: 6,
      pushBatch: 50,
      pushIntervalMs: 50,
      latencyMs: { min: 1, max: 5 },
      // a quarter of the bench's 60 edits: the scenario spaces them 100–200 ms apart
      webhookChanges: 15,
      triggerSeconds: 1,
      triggerRounds: 1,
      outDir: out,
      timeoutMs: 180_000,
      seed: 3,
      scenarios: ["tiers", "scale", "workers"],
      scaleContacts: 300,
      workerCounts: [2],
      workerRecords: 300,
    });
    // The bench's own heap, as a million contacts need it: not the workers' (they keep their 256 MB, below).
    const nodeOptions = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = `${nodeOptions ?? ""} --max-old-space-size=3000`.trim();
    let r: Awaited<ReturnType<typeof runBench>>;
    try {
      r = await runBench(opts, () => {}, { adminUrl: inject("adminUrl") });
    } finally {
      if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = nodeOptions;
    }
    const t = r.tiers[0]!;
    expect(t.errors).toEqual([]);
    expect(r.ok).toBe(true);
    const b = t.backfill!;
    expect(b.hubsync!.records).toBeGreaterThan(100);
    expect(b.hubsync!.records).toBe(b.naive!.records);
    expect(b.hubsync!.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(t.incremental!.hubsync!.changes).toBe(40);
    expect(t.writeBack!.hubsync!.lost).toBe(0);
    expect(t.writeBack!.hubsync!.created).toBe(0);
    expect(t.writeBack!.hubsync!.latencyP95Ms).not.toBeNull();
    expect(t.writeBack!.naive!.callsPerRow).toBeGreaterThanOrEqual(1);
    // changes made in HubSpot arrive through the webhooks alone (no crontab), every one of them
    expect(t.webhooks!.hubsync).toMatchObject({ changes: 15, lost: 0, failedDeliveries: 0 });
    expect(t.webhooks!.hubsync!.latencyP95Ms).not.toBeNull();
    expect(t.checks.map((c) => [c.name, c.ok])).toEqual([
      ["hubsync", true],
      ["naive script", true],
    ]);
    expect(r.trigger?.overhead).toBeTypeOf("number");
    // what was timed with write-back on is UPDATEs that changed their rows, each one logged
    expect(r.trigger!.outboxRowsPerUpdate).toBeGreaterThan(0.95);
    expect(r.trigger!.multiRow!.outboxRowsPerUpdate).toBeGreaterThan(95);
    // the portal's width, the scale run (the worker's own heap limit, RSS sampled) and two workers sharing the work
    expect(r.propertiesPerType!.contacts).toBeGreaterThan(300);
    expect(r.scale).toMatchObject({ contacts: 300, heapLimitMb: 256, check: { ok: true } });
    expect(r.scale!.samples.length).toBeGreaterThan(0);
    expect(r.scale!.peakWorkerRssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(r.workers).toHaveLength(1);
    expect(r.workers![0]!.failedRunErrors).toEqual([]);
    expect(r.workers![0]).toMatchObject({ workers: 2, rateLimited: 0, failedRuns: 0, check: { ok: true } });
    expect(r.workers![0]!.repeatedReads).toBeTypeOf("number");
    expect(r.workers![0]!.recordsRead).toBe(r.workers![0]!.records);
    const files = writeResults(r, out, renderMarkdown(r));
    expect(readFileSync(files.md, "utf8")).toContain("| Backfill: records/s");
    expect(readFileSync(files.md, "utf8")).toContain("| Webhooks: 15 changes made in HubSpot");
    expect(JSON.parse(readFileSync(files.json, "utf8")).ok).toBe(true);
    expect(readFileSync(files.md, "utf8")).toContain("## More worker processes");
  }, 600_000);

  it("notices a lost record and a duplicated one", async () => {
    const sim = await startBenchSimulator({ tier: "pro", latencyMs: { min: 0, max: 0 }, seedSize: 150, seed: 5 });
    const db = await freshDatabase("bench_check");
    try {
      await naiveBackfill(db.pool, naiveHttp(sim.url, sim.token), SYNCED_TYPES.map((s) => s.type));
      const table = async (t: string) => `${NAIVE_SCHEMA}."${t}"`;
      expect((await checkCopy(db.pool, sim, "naive", table)).ok).toBe(true);
      await db.pool.query(`delete from ${NAIVE_SCHEMA}.contacts where id = (select min(id) from ${NAIVE_SCHEMA}.contacts)`);
      const lost = await checkCopy(db.pool, sim, "naive", table);
      expect([lost.ok, lost.missing, lost.duplicated]).toEqual([false, 1, 0]);
      const doubled = async (t: string) =>
        t === "companies" ? `(select * from ${NAIVE_SCHEMA}.companies union all (select * from ${NAIVE_SCHEMA}.companies limit 1)) as doubled` : table(t);
      const dup = await checkCopy(db.pool, sim, "naive", doubled);
      expect([dup.missing, dup.duplicated]).toEqual([1, 1]);
    } finally {
      await sim.close();
      await db.drop();
    }
  });
});
