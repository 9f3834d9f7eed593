import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { SoakOptions, SOAK_DEFAULTS } from "../src/tools/soak/options.ts";
import { renderMarkdown, renderText } from "../src/tools/soak/report.ts";
import { runSoak, totalMade } from "../src/tools/soak/run-soak.ts";

const workDir = mkdtempSync(join(tmpdir(), "hubsync-soak-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/**
 * The soak's CI cut: a small portal, ~24 s of two-way changes at 7 per second with 5% of HubSpot
 * requests failing (5xx, hangs, dropped connections, answers lost after the write), the worker in
 * its own process receiving the simulator's webhooks and SIGKILLed once — then faults off,
 * quiescence, and the record-by-record comparison.
 */
describe("hubsync soak (short)", () => {
  it("converges after two-way changes under faults, with nothing lost, duplicated or different", async () => {
    const opts = SoakOptions.parse({
      ...SOAK_DEFAULTS,
      minutes: 0.4,
      tier: "pro",
      faults: 0.05,
      size: 600,
      rate: 7,
      latencyMs: { min: 1, max: 5 },
      indexLagMs: 1_000,
      faultTimeoutMs: 1_000,
      // convergence is judged, not its speed: a generous limit, so a busy machine is not a failure
      settleTimeoutMs: 90_000,
      progressEverySeconds: 10,
      webhooks: true,
      killEverySeconds: 12,
    });
    const notes: string[] = [];
    const r = await runSoak(opts, (m) => notes.push(m), { adminUrl: inject("adminUrl"), workDir });
    const text = renderText(r);

    expect(r.problems, text).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.convergence.converged).toBe(true);
    expect(r.comparison?.clean).toBe(true);
    expect(r.comparison?.records).toBeGreaterThan(250);

    // Both sides really changed things, and both at once.
    const by = r.changes.byKind;
    const made = (prefix: string) => Object.entries(by).filter(([k]) => k.startsWith(prefix)).reduce((n, [, v]) => n + v.made, 0);
    expect(totalMade(r.changes)).toBeGreaterThan(120);
    expect(made("hubspot:")).toBeGreaterThan(40);
    expect(made("sql:")).toBeGreaterThan(40);
    expect(by["both:same-record"].made).toBeGreaterThan(0);
    expect(by["sql:insert"].made).toBeGreaterThan(0);
    expect(r.changes.errors).toBe(0);

    // Faults were met and survived; the rate budget kept HubSpot from saying 429.
    expect(r.trafficWithFaults.faults).toBeGreaterThan(0);
    expect(r.traffic.rateLimited).toBe(0);
    expect(r.traffic.internalErrors).toBe(0);
    expect(r.outbox.sent).toBeGreaterThan(30);
    // One SIGKILL mid-run: restarted by the supervisor, counted, and nothing lost (the comparison above).
    expect(r.worker.restarts).toBeGreaterThanOrEqual(1);
    expect(r.worker.deaths.length).toBeGreaterThanOrEqual(1);
    expect(r.worker.deaths.every((d) => d.killed)).toBe(true);
    // HubSpot's changes also came as webhooks, and were applied (events the killed worker had
    // claimed may still wait out their claim: the pulls brought those changes, as the comparison shows).
    expect(r.webhooks?.events).toBeGreaterThan(50);
    expect(r.webhooks?.applied).toBeGreaterThan(50);
    expect(r.webhooks?.failedApply).toBe(0);

    // The report says so, with progress lines on the way.
    expect(notes.some((n) => /^\s+\d+ s: \d+ changes · API calls/.test(n))).toBe(true);
    expect(text).toContain("PASS");
    expect(text).toMatch(/faults injected\s+[1-9]/);
    expect(renderMarkdown(r)).toContain("| sql:update |");
  }, 200_000);
});
