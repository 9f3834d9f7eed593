import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHubSpotApi } from "../src/core/hubspot/client.ts";
import { DailyLimitError } from "../src/core/hubspot/errors.ts";
import { nextDailyReset } from "../src/core/hubspot/rate-budget.ts";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { quietLog } from "./support/worker.ts";

/**
 * HubSpot resets the daily quota at midnight in the account's time zone. The client reads it from
 * account-info before its first call, so a DBA need not know it; HUBSYNC_DAILY_RESET_TZ still wins.
 */

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ tier: "free", timeZone: "Asia/Tokyo", rateLimits: { daily: 3 } });
  await sim.control.createRecord("contacts", { email: "tz@example.com" });
});
afterAll(async () => {
  await sim?.close();
});

describe("the daily reset's time zone", () => {
  it("is the account's, read once before the first call", async () => {
    await sim.control.resetRateLimits();
    const api = createHubSpotApi({ accessToken: sim.token, basePath: sim.url, log: quietLog, learnTimeZone: true });
    try {
      await api.listPage("contacts", { limit: 1 });
      await api.listPage("contacts", { limit: 1 });
      expect(api.budget.limits.dailyResetTimeZone).toBe("Asia/Tokyo");
      const err = await api.listPage("contacts", { limit: 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DailyLimitError);
      const reset = nextDailyReset(new Date(), "Asia/Tokyo");
      expect((err as Error).message).toContain(`waiting until ${reset.toISOString().slice(0, 16).replace("T", " ")} UTC (midnight Asia/Tokyo`);
      const details = (await sim.control.requests()).filter((r) => r.path.includes("/account-info/"));
      expect(details.map((r) => r.path)).toEqual(["/account-info/2026-09/details"]);
    } finally {
      api.close();
    }
  });

  it("is the setting's when HUBSYNC_DAILY_RESET_TZ names one (no account-info call)", async () => {
    await sim.control.resetRateLimits();
    await sim.control.resetCounters();
    const api = createHubSpotApi({ accessToken: sim.token, basePath: sim.url, log: quietLog, learnTimeZone: true, limits: { dailyResetTimeZone: "Europe/Paris" } });
    try {
      await api.listPage("contacts", { limit: 1 });
      expect(api.budget.limits.dailyResetTimeZone).toBe("Europe/Paris");
      expect((await sim.control.requests()).filter((r) => r.path.includes("/account-info/"))).toEqual([]);
    } finally {
      api.close();
    }
  });
});
