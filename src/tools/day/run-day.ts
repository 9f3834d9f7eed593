import { createBenchDatabase } from "../shared/database.ts";
import { startLocalPostgres } from "../shared/local-postgres.ts";
import { createLogger } from "../../core/log.ts";
import { startSimulator } from "../../simulator/index.ts";
import { simulateDay, type DayOptions, type DayResults } from "./simulate-day.ts";

/**
 * `hubsync simulate-day`: a Free-tier simulator (its daily quota, the burst windows lifted), a new
 * database on DATABASE_URL's server (or an embedded PostgreSQL), then the day (simulate-day.ts).
 */
export async function runDay(opts: DayOptions, adminUrl: string | undefined): Promise<DayResults> {
  opts.note(adminUrl ? "PostgreSQL: a new database on the given server" : "PostgreSQL: starting an embedded server");
  const pg = adminUrl ? { adminUrl, stop: async () => {} } : await startLocalPostgres("auto");
  const sim = await startSimulator({
    tier: "free",
    rateLimits: { burst: 1_000_000, search: 1_000_000, associations: 1_000_000, daily: opts.dailyLimit },
    timeZone: opts.timeZone,
  });
  const db = await createBenchDatabase(pg.adminUrl, "day");
  try {
    return await simulateDay(db.pool, sim, createLogger({ level: process.env.HUBSYNC_LOG_LEVEL ?? "warn" }), opts);
  } finally {
    await db.close();
    await sim.close();
    await pg.stop();
  }
}

const n = (v: number) => v.toLocaleString("en-US");

/** The results as the Markdown committed to bench/day-results.md. */
export function renderDay(r: DayResults): string {
  const o = r.options;
  const lines = [
    "# A day of the crontab on a Free-tier portal",
    "",
    `\`hubsync simulate-day\`: ${n(o.contacts)} contacts, ${n(o.archived)} archived contacts in the recycle bin, ${n(o.companies)} companies;`,
    `HubSpot's daily limit ${n(r.dailyLimit)}, reserve ${n(r.reserve)} left to the portal's other apps (HUBSYNC_DAILY_RESERVE),`,
    `background scans stop at ${n(r.backgroundFloor)} calls left. ${n(o.minutes)} simulated minutes of the repository's crontab in`,
    `${Math.round(r.dayMs / 1000)} s (setup ${Math.round(r.setupMs / 1000)} s, not counted); deletion and restore webhooks arrive ${o.webhookHours[0]}:00–${o.webhookHours[1]}:00 account time (${o.timeZone}).`,
    ...(r.dailyLimit !== 250_000
      ? [
          "",
          `Scaled 1:${Math.round(250_000 / r.dailyLimit)} from the Free-tier day (200,000 contacts, 100,000 archived, a daily limit of 250,000): the`,
          "bin and the limit shrink together, while the minute's incremental pulls cost what they cost at any size, so they",
          "take a larger share of the day than at full size.",
        ]
      : []),
    "",
    `**${r.ok ? "PASS" : "FAIL"}**: ${n(r.used)} calls used of ${n(r.dailyLimit - r.reserve)} (the quota minus the reserve), ${r.rateLimited} × 429; every kind of change ${r.changes.every((c) => c.arrived === c.made) ? "arrived" : "did NOT all arrive"}.`,
    "",
    "## Calls per kind of work",
    "",
    "| work | runs | HubSpot calls | stopped by a daily floor |",
    "|---|---:|---:|---:|",
    ...Object.keys(r.calls).map((k) => `| ${k} | ${n(r.runs[k as keyof typeof r.runs])} | ${n(r.calls[k as keyof typeof r.calls])} | ${r.stopped[k as keyof typeof r.stopped]} |`),
    `| **total** (HubSpot's count) | | **${n(r.used)}** | |`,
    "",
    "## Changes",
    "",
    "| change | made | arrived |",
    "|---|---:|---:|",
    ...r.changes.map((c) => `| ${c.kind} | ${c.made} | ${c.arrived} |`),
    "",
    "## The day hour by hour",
    "",
    "| hour | calls used | archived-scan interval (min) | hubsync.status daily_quota_projection |",
    "|---:|---:|---:|---|",
    ...r.hours.map((h) => `| ${String(h.hour).padStart(2, "0")}:00 | ${n(h.used)} | ${h.archivedIntervalMin} | ${h.projection} |`),
    "",
  ];
  return lines.join("\n");
}
