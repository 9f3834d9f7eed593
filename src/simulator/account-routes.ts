import { zoneOffsetMs } from "../core/hubspot/rate-budget.ts";
import type { Router, SimContext, SimResponse } from "./router.ts";

/**
 * Account information (`GET /account-info/{v3|2025-09|2026-03|2026-09}/details`): the portal's id,
 * type, currency, data hosting and time zone. HubSpot resets the daily quota at midnight in that
 * time zone, which is why a client reads it. Any valid token may call it (no CRM scope).
 */
const VERSIONS = ["v3", "2025-09", "2026-03", "2026-09"] as const;

function details(ctx: SimContext): SimResponse {
  const ms = zoneOffsetMs(ctx.config.timeZone, new Date());
  const abs = Math.abs(ms) / 60_000;
  const utcOffset = `${ms < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
  return {
    status: 200,
    body: {
      portalId: ctx.store.portalId,
      accountType: "STANDARD",
      timeZone: ctx.config.timeZone,
      companyCurrency: "USD",
      additionalCurrencies: [],
      utcOffset,
      utcOffsetMilliseconds: ms,
      uiDomain: "app.hubspot.com",
      dataHostingLocation: "na1",
    },
  };
}

export function registerAccountRoutes(router: Router): void {
  for (const v of VERSIONS) router.route("GET", `/account-info/${v}/details`, (_req, ctx) => details(ctx));
}
