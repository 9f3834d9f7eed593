import { describe, expect, it } from "vitest";
import { evaluateGoals, renderMarkdown, type BenchResults } from "../src/tools/bench/report.ts";
import { backfillBound } from "../src/tools/bench/bound.ts";
import { Store } from "../src/simulator/store.ts";
import { installCatalog } from "../src/simulator/catalog.ts";

function results(over: { ratio: number; rateLimited: number; callsPerRow: number; p95: number; overhead: number; missing?: number; webhookP95?: number }): BenchResults {
  const backfill = {
    records: 100_000,
    associations: 40_000,
    ms: 120_000,
    totalMs: 150_000,
    recordsPerSecond: 1900 * over.ratio,
    ratioToMax: over.ratio,
    ratioToBound: over.ratio,
    calls: 1100,
    callsPerRecord: 0.011,
    rateLimited: over.rateLimited,
    peakRssBytes: 200 * 1024 * 1024,
  };
  const partial = {
    quick: false,
    startedAt: "2026-11-23T11:30:00.000Z",
    elapsedMs: 900_000,
    machine: { node: "24.0.0", postgres: "15.4 (system)", cpus: 2 },
    latencyMs: { min: 30, max: 80 },
    sizes: { backfillRecords: 100_000, changes: 10_000, pushRows: 10_000, naivePushSample: 400 },
    tiers: [
      {
        tier: "pro" as const,
        limitPer10s: 190,
        maxRecordsPerSecond: 1900,
        boundRecordsPerSecond: 1900,
        channels: [],
        boundArithmetic: "list pages and batch reads: 190 per 10 s × 100 records = 1,900 records/s; bound = 1,900 records/s",
        backfill: { hubsync: backfill, naive: { ...backfill, peakRssBytes: null, recordsPerSecond: 760, ratioToMax: 0.4, ratioToBound: 0.4, rateLimited: 30 } },
        writeBack: {
          stream: { rows: 10_000, batchSize: 100, intervalMs: 100 },
          hubsync: { rows: 10_000, drainMs: 500, calls: 10_000 * over.callsPerRow, callsPerRow: over.callsPerRow, rateLimited: 0, latencyP50Ms: 200, latencyP95Ms: over.p95, lost: 0, created: 0 },
        },
        writeBackUnderLoad: {
          rows: 10_000,
          drainMs: 600,
          calls: 100,
          callsPerRow: 0.01,
          rateLimited: 0,
          latencyP50Ms: 250,
          latencyP95Ms: over.p95,
          lost: 0,
          created: 0,
          load: {
            backfillTypes: ["companies", "deals", "tickets"],
            backfillRunningAtEnd: true,
            changesInHubSpot: 100,
            runs: { associations: 4, backfill: 3, incremental: 8 },
            otherCallsPer10s: 140,
            pushCallsPer10s: 40,
            backfillMs: 60_000,
          },
        },
        webhooks: {
          hubsync: { changes: 60, lost: 0, latencyP50Ms: 230, latencyP95Ms: over.webhookP95 ?? 320, maxMs: 400, callsPerChange: 1.3, failedDeliveries: 0 },
        },
        checks: [{ name: "hubsync", expected: 100_000, missing: over.missing ?? 0, duplicated: 0, extra: 0, ok: !over.missing }],
        errors: [],
      },
    ],
    trigger: { tool: "pgbench" as const, secondsPerRun: 10, tpsWithout: 5000, tpsWith: 4000, latencyWithoutMs: 0.2, latencyWithMs: 0.2 * (1 + over.overhead), overhead: over.overhead },
  };
  return { ...partial, goals: evaluateGoals(partial), ok: partial.tiers.every((t) => t.checks.every((c) => c.ok)) };
}

describe("bench report", () => {
  it("marks every goal met when the figures reach them", () => {
    const r = results({ ratio: 0.96, rateLimited: 0, callsPerRow: 0.0101, p95: 800, overhead: 0.1 });
    expect(r.goals.map((g) => g.met)).toEqual([true, true, true, true, true, true, true]);
  });

  it("says which goals fall short, and a 429 fails the backfill goal however fast it was", () => {
    const r = results({ ratio: 0.99, rateLimited: 1, callsPerRow: 0.02, p95: 1500, overhead: 0.3, webhookP95: 1200 });
    expect(r.goals.filter((g) => g.met === false).map((g) => g.name)).toEqual([
      "backfill at the rate-limited maximum, no 429s (pro)",
      "API calls per pushed row (pro)",
      "commit-to-request p95 (pro)",
      "commit-to-request p95 during a backfill, pulls and association refreshes (pro)",
      "webhook change-to-row p95 (pro)",
      "trigger overhead on a single-row UPDATE",
    ]);
    expect(renderMarkdown(r)).toContain("| API calls per pushed row (pro) | ≤ 0.011 | 0.0200 | **no** |");
  });

  it("puts hubsync and the naive script side by side, explains the bound, and flags lost records", () => {
    const ok = renderMarkdown(results({ ratio: 0.96, rateLimited: 0, callsPerRow: 0.01, p95: 800, overhead: 0.1 }));
    expect(ok).toContain("| Backfill: records/s (÷ bound 1,900/s) | pro (190/10 s) | 1,824/s (96.0%) | 760/s (40.0%) | ≥ 95% |");
    expect(ok).toContain("  - pro: list pages and batch reads: 190 per 10 s × 100 records = 1,900 records/s; bound = 1,900 records/s.");
    expect(ok).toContain("| Webhooks: 60 changes made in HubSpot, change-to-row latency p50 / p95 / max | pro (190/10 s) | 230 ms / 320 ms / 400 ms | — | p95 < 1 s |");
    expect(ok).toContain(
      "| Write-back during a backfill of companies, deals, tickets, pulls and association refreshes: commit-to-request p50 / p95 | pro (190/10 s) | 250 ms / 800 ms | — | p95 < 1 s |",
    );
    expect(ok).toContain("| Write-back under load: calls per 10 s, push / everything else (runs started meanwhile) | pro (190/10 s) | 40 / 140 (associations 4, backfill 3, incremental 8; 100 edits in HubSpot; backfill still running at the end) | — |  |");
    const lost = results({ ratio: 0.96, rateLimited: 0, callsPerRow: 0.01, p95: 800, overhead: 0.1, missing: 3 });
    expect(lost.ok).toBe(false);
    expect(renderMarkdown(lost)).toContain("| Lost / duplicated / extra records (hubsync) | pro (190/10 s) | 3 / 0 / 0 of 100,000 |");
  });
});

describe("the backfill bound", () => {
  const portal = (realistic: boolean) => {
    const store = new Store({});
    installCatalog(store, { realistic, custom: 0 });
    for (const [type, n] of [["contacts", 600], ["companies", 300], ["deals", 100]] as const) {
      const def = store.resolveType(type)!;
      for (let i = 0; i < n; i++) store.createRecord(def, {});
    }
    return store;
  };
  const types = ["contacts", "companies", "deals"];

  it("counts search only for types whose property names fit in a search body", () => {
    const wide = backfillBound(190, portal(true), types);
    // a realistic catalog's names (hundreds per type) do not fit in 3,000 characters: list and batch calls only
    expect(wide.boundRecordsPerSecond).toBe(1900);
    expect(wide.channels.find((c) => c.name === "search")!.carries).toEqual([]);
    expect(wide.arithmetic).toContain("190 per 10 s × 100 records = 1,900 records/s");
    expect(wide.arithmetic).toMatch(/contacts: \d+ property names make a [\d,]+-character search body \(cap 3,000\)/);

    const narrow = backfillBound(100, portal(false), types);
    expect(narrow.boundRecordsPerSecond).toBe(2000);
    expect(narrow.arithmetic).toContain("bound = 1,000 + 1,000 = 2,000 records/s");
  });

  it("takes the time the records search cannot carry need on the general channel alone", () => {
    const store = portal(false);
    const contacts = store.resolveType("contacts")!;
    for (let i = 0; i < 200; i++) store.createProperty(contacts, { name: `a_rather_long_portal_property_name_${i}`, type: "string" });
    // contacts (600 of 1,000 records) only through list/batch at 1,000/s: 0.6 s, so at most 1,000 ÷ 0.6 records/s overall
    const b = backfillBound(100, store, types);
    expect(b.channels.find((c) => c.name === "search")!.carries).toEqual(["companies", "deals"]);
    expect(b.boundRecordsPerSecond).toBeCloseTo(1000 / 0.6, 6);
  });

  it("counts search for every type when the portal does not count the property list against the body cap", () => {
    expect(backfillBound(190, portal(true), types, false).boundRecordsPerSecond).toBe(2900);
  });
});

describe("bench report: the scale and scale-out runs", () => {
  const MB = 1024 * 1024;
  const backfill = {
    records: 1_004_000,
    associations: 950_000,
    ms: 560_000,
    totalMs: 600_000,
    recordsPerSecond: 1_004_000 / 560,
    ratioToMax: 1_004_000 / 560 / 1900,
    ratioToBound: 1_004_000 / 560 / 1900,
    calls: 10_100,
    callsPerRecord: 0.01,
    rateLimited: 0,
    peakRssBytes: 240 * MB,
  };
  const scale = (peakMb: number) => ({
    tier: "pro" as const,
    limitPer10s: 190,
    contacts: 1_000_000,
    seedMs: 60_000,
    heapLimitMb: 256,
    backfill: { ...backfill, peakRssBytes: peakMb * MB },
    samples: [
      { atMs: 0, workerRssBytes: 90 * MB, benchRssBytes: 2000 * MB },
      { atMs: 280_000, workerRssBytes: peakMb * MB, benchRssBytes: 2100 * MB },
      { atMs: 600_000, workerRssBytes: 200 * MB, benchRssBytes: 2100 * MB },
    ],
    peakWorkerRssBytes: peakMb * MB,
    peakBenchRssBytes: 2100 * MB,
    check: { name: "hubsync", expected: 1_004_000, missing: 0, duplicated: 0, extra: 0, ok: true },
  });
  const count = (workers: number, over: { repeatedReads?: number; rateLimited?: number; recordsPerSecond?: number } = {}) => ({
    workers,
    records: 50_000,
    ms: 28_000,
    recordsPerSecond: over.recordsPerSecond ?? 1_786,
    ratioToMax: (over.recordsPerSecond ?? 1_786) / 1900,
    calls: 520,
    rateLimited: over.rateLimited ?? 0,
    runs: { discover: 4, backfill: 4, associations: 3 },
    failedRuns: 0,
    failedRunErrors: [],
    recordsRead: 50_000,
    repeatedReads: over.repeatedReads ?? 0,
    peakRssBytes: 180 * MB,
    check: { name: "hubsync", expected: 50_000, missing: 0, duplicated: 0, extra: 0, ok: true },
  });
  function withRuns(extra: Pick<BenchResults, "scale" | "workers" | "propertiesPerType">): BenchResults {
    const base = results({ ratio: 0.96, rateLimited: 0, callsPerRow: 0.0101, p95: 800, overhead: 0.1 });
    const { goals: _goals, ok: _ok, ...partial } = { ...base, ...extra };
    return { ...partial, goals: evaluateGoals(partial), ok: true };
  }

  it("judges the million-record memory goal and the scale-out goal, and shows RSS over the run and the table per process count", () => {
    const r = withRuns({ scale: scale(250), workers: [count(1), count(2), count(4)], propertiesPerType: { contacts: 371, companies: 192 } });
    const added = r.goals.filter((g) => g.name.includes("scale"));
    expect(added.map((g) => [g.name, g.met])).toEqual([
      ["peak worker memory, 1,004,000-record backfill (scale, pro)", true],
      ["scale-out (1, 2, 4 worker processes)", true],
    ]);
    const md = renderMarkdown(r);
    expect(md).toContain("properties per type: contacts 371, companies 192.");
    expect(md).toContain("## Scale: 1,000,000 contacts on pro (190/10 s)");
    expect(md).toContain("| Worker peak memory (RSS) | 250 MB | < 300 MB |");
    expect(md).toContain("| Worker heap limit (HUBSYNC_MAX_HEAP_MB) | 256 MB |  |");
    expect(md).toContain("| 280 s | 250 MB | 2100 MB |");
    expect(md).toContain("| 4 | 50,000 | 28 s | 1,786/s (94.0%) | 520 | 0 | discover 4, backfill 4, associations 3 | 0 / 50,000 | 180 MB | 0 / 0 / 0 |");
    expect(md).toMatch(/What more processes buy: not speed/);
  });

  it("fails the goals on a peak over 300 MB, a 429, a page read twice, or more processes copying slower", () => {
    const failing = (workers: ReturnType<typeof count>[], peak = 250) =>
      withRuns({ scale: scale(peak), workers }).goals.filter((g) => g.met === false).map((g) => g.name);
    expect(failing([count(1)], 320)).toEqual(["peak worker memory, 1,004,000-record backfill (scale, pro)"]);
    expect(failing([count(1), count(2, { repeatedReads: 1 })])).toEqual(["scale-out (1, 2 worker processes)"]);
    expect(failing([count(1), count(4, { rateLimited: 2 })])).toEqual(["scale-out (1, 4 worker processes)"]);
    expect(failing([count(1), count(4, { recordsPerSecond: 1_500 })])).toEqual(["scale-out (1, 4 worker processes)"]);
  });

  it("says why a scenario was not measured instead of leaving it out", () => {
    const quick = withRuns({ scale: null, workers: [] });
    const md = renderMarkdown({ ...quick, scaleNote: "skipped in --quick (--scale N runs it)", workersNote: "skipped in --quick (--workers 1,2,4 runs it)" });
    expect(md).toContain("Not measured: skipped in --quick (--scale N runs it).");
    expect(md).toContain("Not measured: skipped in --quick (--workers 1,2,4 runs it).");
    const failed = withRuns({ scale: null, workers: [] });
    const goals = evaluateGoals({ ...failed, scaleNote: "failed: out of memory" });
    expect(goals.find((g) => g.name.startsWith("peak worker memory") && g.name.includes("scale"))).toMatchObject({ measured: "not measured", met: null });
  });

  it("says a run of some parts (--only) is not a full run", () => {
    const all = withRuns({ scale: null, workers: [] });
    expect(renderMarkdown(all)).toContain("Full run (`hubsync bench`).");
    const some = renderMarkdown({ ...all, only: ["scale"] });
    expect(some).toContain("Partial run (`hubsync bench --only scale`): the other parts did not run.");
    expect(some).not.toContain("Full run");
  });
});
