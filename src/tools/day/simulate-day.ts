import { readFileSync } from "node:fs";
import { parseCrontab } from "graphile-worker";
import type pg from "pg";
import type { SyncContext } from "../../core/context.ts";
import { dailyFloors, readDailyState, type DailyReserve } from "../../core/daily-quota.ts";
import { createHubSpotApi } from "../../core/hubspot/client.ts";
import { PausedError } from "../../core/hubspot/errors.ts";
import { dailyPeriodStart } from "../../core/hubspot/rate-budget.ts";
import { newUsage, trackUsage, type Usage } from "../../core/hubspot/usage.ts";
import type { Logger } from "../../core/log.ts";
import { scheduledSweep, sweepAssociations } from "../../core/associations/sweep.ts";
import { refreshChangedAssociations } from "../../core/associations/refresh.ts";
import { archivedScanDue, scheduledArchivedScans } from "../../core/pull/archived.ts";
import { cycleAll } from "../../core/pull/cycle.ts";
import { pullIncremental } from "../../core/pull/incremental.ts";
import { scheduledReconcile } from "../../core/pull/reconcile.ts";
import { runPush } from "../../core/push/run.ts";
import { prune } from "../../core/retention.ts";
import { duePublications, runPublication } from "../../core/publish/task.ts";
import { sweepLists } from "../../core/lists/sweep.ts";
import { listEnabledObjects } from "../../core/schema/objects.ts";
import { applyWebhookEvents } from "../../core/webhooks/apply.ts";
import { insertBatch } from "../../core/webhooks/inbox.ts";
import { associationsOf } from "../../simulator/associations.ts";
import type { RunningSimulator } from "../../simulator/index.ts";

/**
 * A day of hubsync's crontab on a simulated clock: every minute of the account's day, the changes
 * a portal's users make (in HubSpot and in Postgres) land, then whatever the repository's crontab
 * runs at that minute runs, through the same functions the worker's tasks call, with the context's
 * clock set to the simulated minute. Every HubSpot call is real (to the simulator, whose daily
 * quota counts them); only the burst windows are lifted, since a day's worth of calls is sent in
 * minutes (the day's total is what is measured, and at HubSpot's 100 per 10 s it would take the
 * day). At the end: calls per kind of work, the day's use against the quota minus the reserve,
 * and whether every kind of change arrived.
 */

export interface DayOptions {
  /** Live contacts in HubSpot at the start of the day. */
  contacts: number;
  /** Archived contacts in the recycle bin at the start of the day. */
  archived: number;
  companies: number;
  /** HubSpot's daily limit (Free: 250,000). */
  dailyLimit: number;
  reserve: DailyReserve;
  /** Changes of each kind made during the day (creates, edits, deletions, restores, association changes, local edits). */
  changesPerKind: number;
  /** Hours of the day (account time, [from, to)) during which deletion and restore webhooks are delivered. */
  webhookHours: [number, number];
  /** Changes stop this many minutes before midnight, so the day's last scans can bring them. */
  quietMinutes: number;
  /** Minutes of the day simulated (1440 = a day). */
  minutes: number;
  timeZone: string;
  /** Where the crontab is read from. */
  crontabPath: string;
  note: (message: string) => void;
}

export const KINDS = ["incremental", "refresh", "push", "webhooks", "archived", "sweep", "reconcile"] as const;
type Kind = (typeof KINDS)[number];

export interface HourRow {
  hour: number;
  /** Calls HubSpot counted since the day began (the simulator's count). */
  used: number;
  /** hubsync.status's daily_quota_projection at that hour. */
  projection: string;
  /** The archived scan's interval for contacts at that hour, in minutes. */
  archivedIntervalMin: number;
}

export interface ChangeCheck {
  kind: string;
  made: number;
  arrived: number;
}

export interface DayResults {
  options: Omit<DayOptions, "note">;
  dailyLimit: number;
  reserve: number;
  backgroundFloor: number;
  /** Calls HubSpot counted during the day. */
  used: number;
  /** 429s HubSpot (the simulator) answered during the day. */
  rateLimited: number;
  calls: Record<Kind, number>;
  runs: Record<Kind, number>;
  /** Times a kind of work was stopped by a daily floor. */
  stopped: Record<Kind, number>;
  hours: HourRow[];
  changes: ChangeCheck[];
  setupMs: number;
  dayMs: number;
  ok: boolean;
}

const PROPERTIES = ["email", "firstname", "lastname"];
const MINUTE = 60_000;

/** The crontab's entries as (task, matcher). */
function crontabItems(path: string) {
  return parseCrontab(readFileSync(path, "utf8")).map((item) => ({ task: item.task, match: item.match }));
}

function digestOf(at: Date) {
  return { min: at.getUTCMinutes(), hour: at.getUTCHours(), date: at.getUTCDate(), month: at.getUTCMonth() + 1, dow: at.getUTCDay() };
}

/** Spreads n actions over the day's first `span` minutes (or over the given minute ranges). */
function spread(n: number, ranges: Array<[number, number]>): number[] {
  const total = ranges.reduce((s, [a, b]) => s + (b - a), 0);
  return Array.from({ length: n }, (_, i) => {
    let at = Math.floor(((i + 0.5) * total) / n);
    for (const [a, b] of ranges) {
      if (at < b - a) return a + at;
      at -= b - a;
    }
    return ranges[ranges.length - 1]![1] - 1;
  });
}

/** The crontab tasks the day knows how to run on its simulated clock. */
export const SIMULATED_TASKS = [
  "hubsync_pull_all",
  "hubsync_push",
  "hubsync_pull_archived",
  "hubsync_sweep_associations",
  "hubsync_reconcile",
  "hubsync_prune",
  "hubsync_publish",
  "hubsync_sweep_lists",
] as const;
type SimulatedTask = (typeof SIMULATED_TASKS)[number];

/**
 * The crontab's entries, refused before any seeding when one names a task the day cannot run: a
 * day that skipped a scheduled task would under-count the calls it is there to count.
 */
export function dayCrontab(path: string) {
  const cron = crontabItems(path);
  const unknown = cron.filter((c) => !(SIMULATED_TASKS as readonly string[]).includes(c.task));
  if (unknown.length) throw new Error(`the day simulation does not know the crontab's task(s) ${unknown.map((c) => c.task).join(", ")}`);
  return cron.map((c) => ({ ...c, task: c.task as SimulatedTask }));
}

export async function simulateDay(pool: pg.Pool, sim: RunningSimulator, log: Logger, opts: DayOptions): Promise<DayResults> {
  const cron = dayCrontab(opts.crontabPath);
  const store = sim.store;
  const contactsType = store.resolveType("contacts")!;
  const companiesType = store.resolveType("companies")!;
  const assoc = associationsOf(store);
  const setupStarted = Date.now();

  opts.note(`seeding the simulator: ${opts.contacts.toLocaleString("en-US")} contacts, ${opts.archived.toLocaleString("en-US")} archived, ${opts.companies} companies`);
  const liveIds: string[] = [];
  for (let i = 0; i < opts.contacts; i++) liveIds.push(store.createRecord(contactsType, { email: `c${i}@day.example`, firstname: `C${i}`, lastname: "Day" }).id);
  const binIds: string[] = [];
  for (let i = 0; i < opts.archived; i++) {
    const id = store.createRecord(contactsType, { email: `gone${i}@day.example`, firstname: `Gone${i}` }).id;
    store.archiveRecord(contactsType, id);
    binIds.push(id);
  }
  const companyIds: string[] = [];
  for (let i = 0; i < opts.companies; i++) companyIds.push(store.createRecord(companiesType, { name: `Company ${i}` }).id);
  // a few associations to start with, so the sweep reads a pair that is not empty
  for (let i = 0; i < Math.min(opts.companies, liveIds.length); i++) assoc.add(contactsType.objectTypeId, Number(liveIds[i]), companiesType.objectTypeId, Number(companyIds[i]));

  let simNow = new Date();
  const hubspot = createHubSpotApi({
    accessToken: sim.token,
    basePath: sim.url,
    pool,
    log,
    // the burst windows are not what a day simulation measures (see above); the daily quota is
    limits: { generalLimit: 1_000_000, searchLimit: 1_000_000, associationsMode: "none", dailyReserve: opts.reserve },
    // the daily quota resets at midnight in the account's time zone, read from HubSpot as the worker does
    learnTimeZone: true,
  });
  const ctx: SyncContext = { pool, hubspot, log, clock: () => simNow };

  opts.note("backfilling contacts and companies (not counted in the day)");
  await pool.query(`select hubsync.enable_sync('contacts', $1::text[], true)`, [PROPERTIES]);
  await pool.query(`select hubsync.enable_sync('companies', array['name'])`);
  for (let round = 0; round < 5; round++) {
    const cycles = await cycleAll(ctx, ["contacts", "companies"], { archived: false });
    const errors = cycles.filter((c) => c.error);
    if (errors.length) throw new Error(`backfill failed: ${errors.map((e) => e.error).join("; ")}`);
    if ((await listEnabledObjects(pool, ["live"])).length >= 2) break;
  }
  await sweepAssociations(ctx, { kind: "backfill" });

  // The day starts at the account's midnight, with a fresh quota on both sides.
  const dayStart = dailyPeriodStart(new Date(), hubspot.budget.limits.dailyResetTimeZone);
  await sim.control.resetCounters();
  await sim.control.resetRateLimits();
  await pool.query(
    `update hubsync.rate_budget set daily_limit = null, daily_remaining = null, daily_resets_at = null, daily_period_start = null where bucket = 'general'`,
  );
  await pool.query(`delete from hubsync.cursors where stream in ('associations:sweep') or (stream = 'archived' and object_type in ('contacts', 'companies'))`);
  const setupMs = Date.now() - setupStarted;

  // The day's script: which change happens at which minute.
  const lastMinute = opts.minutes - opts.quietMinutes;
  const [whFrom, whTo] = opts.webhookHours.map((h) => h * 60) as [number, number];
  const n = opts.changesPerKind;
  const everywhere: Array<[number, number]> = [[0, lastMinute]];
  // A restore bumps nothing a pull sees: webhooks bring it, or the nightly reconcile (03:17).
  const restoreWindows: Array<[number, number]> = [[0, 180], [whFrom, Math.min(whTo, lastMinute)]];
  const plan = {
    create: spread(n, everywhere),
    edit: spread(n, everywhere),
    delete: spread(n, everywhere),
    restore: spread(n, restoreWindows),
    associate: spread(n, everywhere),
    local: spread(n, everywhere),
  };
  const pick = (() => {
    let next = opts.companies; // the first ones carry the starting associations
    return () => liveIds[next++ % liveIds.length]!;
  })();
  const made = {
    create: [] as string[],
    edit: [] as Array<{ id: string; value: string }>,
    delete: [] as string[],
    restore: [] as string[],
    associate: [] as Array<{ contact: string; company: string }>,
    local: [] as Array<{ id: string; value: string }>,
  };
  const used = new Set<string>();
  const fresh = () => {
    for (;;) {
      const id = pick();
      if (!used.has(id)) {
        used.add(id);
        return id;
      }
    }
  };
  let eventId = 1;
  const webhook = async (action: "deletion" | "restore", id: string) =>
    insertBatch(pool, [{ eventId: eventId++, subscriptionId: 1, portalId: 1, occurredAt: Date.now(), subscriptionType: `contact.${action}`, attemptNumber: 0, objectId: Number(id), changeSource: "CRM" }]);

  async function userChanges(minute: number): Promise<void> {
    const inWebhookHours = minute >= whFrom && minute < whTo;
    for (const _ of plan.create.filter((m) => m === minute)) made.create.push(store.createRecord(contactsType, { email: `new${made.create.length}@day.example`, firstname: "New" }).id);
    for (const _ of plan.edit.filter((m) => m === minute)) {
      const id = fresh();
      const value = `Edited ${minute}`;
      store.updateRecord(contactsType, id, { firstname: value });
      made.edit.push({ id, value });
    }
    for (const _ of plan.delete.filter((m) => m === minute)) {
      const id = fresh();
      store.archiveRecord(contactsType, id);
      made.delete.push(id);
      if (inWebhookHours) await webhook("deletion", id);
    }
    for (const _ of plan.restore.filter((m) => m === minute)) {
      const id = binIds[made.restore.length]!;
      store.restoreRecord(contactsType, id);
      made.restore.push(id);
      if (inWebhookHours) await webhook("restore", id);
    }
    for (const _ of plan.associate.filter((m) => m === minute)) {
      const contact = fresh();
      const company = companyIds[made.associate.length % companyIds.length]!;
      assoc.add(contactsType.objectTypeId, Number(contact), companiesType.objectTypeId, Number(company));
      made.associate.push({ contact, company });
    }
    for (const _ of plan.local.filter((m) => m === minute)) {
      const id = fresh();
      const value = `Local ${minute}`;
      await pool.query(`update hubspot.contacts set lastname = $2 where id = $1`, [id, value]);
      made.local.push({ id, value });
    }
  }

  const usage = Object.fromEntries(KINDS.map((k) => [k, newUsage()])) as Record<Kind, Usage>;
  const runs = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  const stopped = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  const run = async (kind: Kind, fn: () => Promise<boolean | void>) => {
    try {
      const ran = await trackUsage(usage[kind], fn);
      if (ran !== false) runs[kind]++;
    } catch (err) {
      if (err instanceof PausedError && err.reason === "daily") stopped[kind]++;
      else throw err;
    }
  };
  const tasks: Record<SimulatedTask, () => Promise<void>> = {
    hubsync_pull_all: async () => {
      for (const o of await listEnabledObjects(pool, ["live"])) {
        await run("incremental", async () => void (await pullIncremental(ctx, o.object_type)));
        // the trigger on last_pull_at queues the association refresh after each pull
        await run("refresh", async () => void (await refreshChangedAssociations(ctx, o.object_type)));
      }
    },
    hubsync_push: async () => {
      for (const t of ["contacts"]) await run("push", async () => void (await runPush(ctx, t, { coalesceMs: 0 })));
    },
    hubsync_pull_archived: () => run("archived", async () => (await scheduledArchivedScans(ctx, { fromCron: true })).length > 0),
    hubsync_sweep_associations: () => run("sweep", async () => (await scheduledSweep(ctx, { fromCron: true })) !== null),
    hubsync_reconcile: () => run("reconcile", () => scheduledReconcile(ctx)),
    // Retention deletes hubsync's own bookkeeping rows and calls HubSpot never, so it is run (it
    // shares the database with the day) but not counted as a kind of HubSpot work.
    hubsync_prune: async () => void (await prune(pool, log, { pauseMs: 0 })),
    // The publications due (none unless the day made some): a run queues into the outbox, which
    // the push sends, so its calls are counted as the push's.
    hubsync_publish: async () => {
      for (const name of await duePublications(pool, simNow)) await runPublication(ctx, name);
    },
    // The day enables no lists, so the sweep finds nothing to do; it runs all the same, and any
    // call it made would show in HubSpot's total below the kinds.
    hubsync_sweep_lists: async () => void (await sweepLists(ctx)),
  };

  const hours: HourRow[] = [];
  const hourRow = async (hour: number) => {
    const counters = await sim.control.counters();
    const { rows } = await pool.query<{ p: string | null }>(`select hubsync.daily_quota_projection($1) as p`, [simNow]);
    const due = await archivedScanDue(ctx, "contacts");
    hours.push({ hour, used: counters.total - counters.rateLimited, projection: rows[0]?.p ?? "", archivedIntervalMin: Math.round(due.intervalMs / MINUTE) });
  };

  opts.note(`simulating ${opts.minutes} minutes of the crontab from ${dayStart.toISOString()} (${opts.timeZone} midnight)`);
  const dayStarted = Date.now();
  for (let minute = 0; minute < opts.minutes; minute++) {
    simNow = new Date(dayStart.getTime() + minute * MINUTE);
    if (minute % 60 === 0) {
      await hourRow(minute / 60);
      opts.note(`  ${String(minute / 60).padStart(2, "0")}:00  ${hours[hours.length - 1]!.used.toLocaleString("en-US")} calls  ${hours[hours.length - 1]!.projection}`);
    }
    await userChanges(minute);
    await run("webhooks", async () => void (await applyWebhookEvents(ctx, { minIntervalMs: 0 })));
    for (const item of cron) if (item.match(digestOf(simNow))) await tasks[item.task]!();
  }
  simNow = new Date(dayStart.getTime() + opts.minutes * MINUTE);
  await hourRow(opts.minutes / 60);
  const dayMs = Date.now() - dayStarted;

  // Did every kind of change arrive?
  const count = async (sql: string, params: unknown[]) => Number((await pool.query<{ n: string }>(sql, params)).rows[0]!.n);
  const changes: ChangeCheck[] = [
    { kind: "creates in HubSpot", made: made.create.length, arrived: await count(`select count(*) as n from hubspot.contacts where id = any($1)`, [made.create]) },
    {
      kind: "edits in HubSpot",
      made: made.edit.length,
      arrived: await count(`select count(*) as n from hubspot.contacts c join jsonb_to_recordset($1::jsonb) x(id text, value text) on x.id = c.id and c.firstname = x.value`, [JSON.stringify(made.edit)]),
    },
    { kind: "deletions in HubSpot", made: made.delete.length, arrived: made.delete.length - (await count(`select count(*) as n from hubspot.contacts where id = any($1) and archived_at is null`, [made.delete])) },
    { kind: "restores in HubSpot", made: made.restore.length, arrived: await count(`select count(*) as n from hubspot.contacts where id = any($1) and archived_at is null`, [made.restore]) },
    {
      kind: "association changes in HubSpot",
      made: made.associate.length,
      arrived: await count(
        `select count(*) as n from hubspot.associations_company_contact a join jsonb_to_recordset($1::jsonb) x(contact text, company text) on a.contact_id = x.contact and a.company_id = x.company`,
        [JSON.stringify(made.associate)],
      ),
    },
    {
      kind: "local edits pushed to HubSpot",
      made: made.local.length,
      arrived: made.local.filter((l) => store.getRecord(contactsType, l.id)?.properties.lastname === l.value).length,
    },
  ];
  const counters = await sim.control.counters();
  const day = await readDailyState(pool);
  const floors = dailyFloors(opts.dailyLimit, opts.reserve);
  const usedToday = counters.total - counters.rateLimited;
  hubspot.close();
  const { note: _note, ...options } = opts;
  return {
    options,
    dailyLimit: day?.limit ?? opts.dailyLimit,
    reserve: floors.reserve,
    backgroundFloor: floors.background,
    used: usedToday,
    rateLimited: counters.rateLimited,
    calls: Object.fromEntries(KINDS.map((k) => [k, usage[k].requests])) as Record<Kind, number>,
    runs,
    stopped,
    hours,
    changes,
    setupMs,
    dayMs,
    ok: usedToday <= opts.dailyLimit - floors.reserve && counters.rateLimited === 0 && changes.every((c) => c.arrived === c.made && c.made > 0),
  };
}
