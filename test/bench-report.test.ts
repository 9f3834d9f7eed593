import { describe, expect, it } from "vitest";
import { evaluateGoals, renderMarkdown, type BenchResults } from "../src/tools/bench/report.ts";

function results(over: { ratio: number; rateLimited: number; callsPerRow: number; p95: number; overhead: number; missing?: number; webhookP95?: number }): BenchResults {
  const backfill = {
    records: 100_000,
    associations: 40_000,
    ms: 120_000,
    totalMs: 150_000,
    recordsPerSecond: 1900 * over.ratio,
    ratioToMax: over.ratio,
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
        backfill: { hubsync: backfill, naive: { ...backfill, peakRssBytes: null, recordsPerSecond: 760, ratioToMax: 0.4, rateLimited: 30 } },
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
    expect(ok).toContain("| Backfill: records/s (÷ max 1,900/s) | pro (190/10 s) | 1,824/s (96.0%) | 760/s (40.0%) | ≥ 95% |");
    expect(ok).toMatch(/limit\* × 100 ÷ 10 s records per second/);
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
