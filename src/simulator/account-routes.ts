import type { Router, SimContext, SimResponse } from "./router.ts";

/**
 * Account information (`GET /account-info/{v3|2025-09|2026-03|2026-09}/details`): the portal's id,
 * type, currency, data hosting and time zone. HubSpot resets the daily quota at midnight in that
 * time zone, which is why a client reads it. Any valid token may call it (no CRM scope).
 */
const VERSIONS = ["v3", "2025-09", "2026-03", "2026-09"] as const;

/** The zone's offset from UTC at `at`, in ms (from Intl: no tz database of our own). */
function offsetMs(timeZone: string, at: Date): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  const asUtc = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return asUtc - Math.floor(at.getTime() / 1000) * 1000;
}

function details(ctx: SimContext): SimResponse {
  const ms = offsetMs(ctx.config.timeZone, new Date());
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
