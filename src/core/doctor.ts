import type pg from "pg";
import { httpOptions, readEnv, type Env } from "./config.ts";
import { createPool } from "./db/pool.ts";
import { createHubSpotApi, type HubSpotApi } from "./hubspot/client.ts";
import { HubSpotError, MissingScopesError, PausedError } from "./hubspot/errors.ts";
import type { Logger } from "./log.ts";
import { LISTS } from "./lists/pull.ts";
import { LOCAL_ID_PROPERTY } from "./push/plan.ts";
import { isRejection } from "./push/send.ts";

/**
 * `hubsync doctor`: what a DBA runs before anything else. Each check is one row (what was checked,
 * what was found, what to do); sync cannot work while any row failed. It reads only: the database,
 * then one cheap HubSpot call per enabled type and per feature, none recorded in the shared rate
 * budget (a refused token here must not pause a running worker).
 */

export type Verdict = "ok" | "warn" | "fail";

export interface CheckRow {
  verdict: Verdict;
  check: string;
  result: string;
  todo: string;
}

interface EnabledType {
  object_type: string;
  write_back: boolean;
}

/**
 * The CRM types a private or project app can subscribe to webhooks for (HubSpot's webhooks guide);
 * other types and custom objects are offered none, so they stay on pulls.
 */
const WEBHOOK_TYPES = ["contacts", "companies", "deals", "tickets", "products", "line_items"];

/** Burst limits per 10 s by HubSpot tier (private and project apps, service keys). */
const TIER_BY_BURST: Record<number, string> = { 100: "Free or Starter", 190: "Professional or Enterprise", 250: "with the API limit increase" };

const n = (x: number) => x.toLocaleString("en-US");

export async function runDoctor(source: NodeJS.ProcessEnv, log: Logger): Promise<CheckRow[]> {
  const rows: CheckRow[] = [];
  const add = (verdict: Verdict, check: string, result: string, todo = "") => rows.push({ verdict, check, result, todo });

  let env: Env;
  try {
    env = readEnv(source);
  } catch (err) {
    add("fail", "environment", err instanceof Error ? err.message.replace(/^hubsync: /, "") : String(err), "fix the variable named");
    return rows;
  }

  // The database and the install.
  let types: EnabledType[] | null = null;
  let pool: pg.Pool | null = null;
  if (!env.DATABASE_URL) {
    add("fail", "DATABASE_URL", "not set", "export DATABASE_URL=postgres://user:password@host:5432/db");
  } else {
    pool = createPool(env.DATABASE_URL, { max: 1, applicationName: "hubsync doctor" });
    try {
      const v = await pool.query<{ user: string; version: string }>(`select current_user as user, current_setting('server_version') as version`);
      add("ok", "DATABASE_URL", `connected as ${v.rows[0]!.user} (PostgreSQL ${v.rows[0]!.version})`);
      const installed = await pool.query<{ ok: boolean }>(`select to_regclass('hubsync.objects') is not null as ok`);
      if (!installed.rows[0]!.ok) {
        add("fail", "install", "hubsync is not installed in this database", "run `hubsync install`");
      } else {
        types = (await pool.query<EnabledType>(`select object_type, write_back from hubsync.objects where enabled order by object_type`)).rows;
        add(
          types.length ? "ok" : "warn",
          "install",
          types.length ? `installed; syncing ${types.map((t) => t.object_type).join(", ")}` : "installed; no object type enabled yet",
          types.length ? "" : "select hubsync.enable_sync('contacts');",
        );
      }
    } catch (err) {
      add("fail", "DATABASE_URL", `cannot connect: ${err instanceof Error ? err.message : String(err)}`, "check host, port, user and password, and that PostgreSQL runs");
    }
  }

  try {
    if (!env.HUBSPOT_ACCESS_TOKEN) {
      add("fail", "access token", "HUBSPOT_ACCESS_TOKEN is not set", "create a Service Key in HubSpot with the scopes below; export HUBSPOT_ACCESS_TOKEN");
    } else {
      // No pool: the doctor's findings stay out of the shared budget and its pauses.
      const api = createHubSpotApi({ accessToken: env.HUBSPOT_ACCESS_TOKEN, basePath: env.HUBSPOT_BASE_URL, log, ...httpOptions(env), maxAttempts: 2, timeoutMs: 15_000 });
      try {
        if (await checkToken(api, env, add)) {
          checkLimits(api, add);
          for (const t of types ?? []) {
            try {
              await checkType(api, t, add);
            } catch (err) {
              add("fail", `check ${t.object_type}`, err instanceof Error ? err.message : String(err), "see the message");
            }
          }
        }
      } finally {
        api.close();
      }
    }
    checkWebhooks(source, types, add);
    if (pool && types) await checkInbox(pool, source, add);
  } finally {
    await pool?.end();
  }
  return rows;
}

/**
 * Lists: a one-list search shows the read scope; with write-back, an empty membership change of a
 * list that does not exist shows the write scope (HubSpot checks scopes first; a 404 means it is there).
 */
async function checkLists(api: HubSpotApi, t: EnabledType, add: (v: Verdict, c: string, r: string, t?: string) => void, scopeOf: (err: unknown, fallback: string) => string): Promise<void> {
  const checks: Array<{ what: string; scope: string; call: () => Promise<unknown> }> = [
    { what: "read lists", scope: "crm.lists.read", call: () => api.request("general", { method: "POST", path: api.paths.lists.search(), body: { query: "", offset: 0, count: 1, processingTypes: [], listIds: [], additionalProperties: [] } }, { label: "lists read check" }) },
  ];
  if (t.write_back) {
    checks.push({ what: "change list members", scope: "crm.lists.write", call: () => api.request("general", { method: "PUT", path: api.paths.lists.addAndRemove("0"), body: { recordIdsToAdd: [], recordIdsToRemove: [] } }, { label: "lists write check" }) });
  }
  for (const c of checks) {
    try {
      await c.call();
    } catch (err) {
      if (err instanceof MissingScopesError) {
        const scope = scopeOf(err, c.scope);
        add("fail", c.what, `refused (403): missing scope ${scope}`, `add scope ${scope} to the key`);
        continue;
      }
      if (!isRejection(err)) throw err;
    }
    add("ok", c.what, "allowed");
  }
}

/** The token, through the account-info call any token may make; its time zone resets the daily quota. */
async function checkToken(api: HubSpotApi, env: Env, add: (v: Verdict, c: string, r: string, t?: string) => void): Promise<boolean> {
  try {
    const account = await api.accountDetails();
    add("ok", "access token", `accepted by HubSpot (portal ${account.portalId}, ${api.apiVersion === "legacy" ? "v3/v4 paths" : `API ${api.apiVersion}`})`);
    const setting = env.HUBSYNC_DAILY_RESET_TZ;
    if (setting && setting !== account.timeZone) {
      add("warn", "time zone", `HUBSYNC_DAILY_RESET_TZ=${setting}, but the account's is ${account.timeZone}`, "unset HUBSYNC_DAILY_RESET_TZ: hubsync reads the account's");
    } else {
      add("ok", "time zone", `${account.timeZone}: the daily quota resets at its midnight`);
    }
    return true;
  } catch (err) {
    if (err instanceof PausedError && err.reason === "auth") {
      add("fail", "access token", err.message, "create a Service Key (or use a project app's static token) and set HUBSPOT_ACCESS_TOKEN to it");
    } else if (err instanceof PausedError && err.reason === "migration") {
      add("fail", "access token", err.message, "wait: HubSpot is moving the account");
    } else {
      add("fail", "HubSpot", `no answer from ${api.apiVersion} account-info: ${err instanceof Error ? err.message : String(err)}`, "check HUBSPOT_BASE_URL and the network");
    }
    return false;
  }
}

/** The tier's limits as HubSpot's rate headers state them. */
function checkLimits(api: HubSpotApi, add: (v: Verdict, c: string, r: string, t?: string) => void): void {
  const h = api.rateHeaders;
  const max = Number(h["x-hubspot-ratelimit-max"]);
  const interval = Number(h["x-hubspot-ratelimit-interval-milliseconds"]);
  const daily = Number(h["x-hubspot-ratelimit-daily"]);
  const left = Number(h["x-hubspot-ratelimit-daily-remaining"]);
  if (!Number.isFinite(max) || max <= 0) {
    add("warn", "rate limits", "HubSpot sent no rate-limit headers", "none: hubsync keeps to 100 per 10 s until HubSpot says more");
    return;
  }
  const tier = TIER_BY_BURST[max];
  const parts = [`${n(max)} per ${Number.isFinite(interval) && interval > 0 ? interval / 1000 : 10} s${tier ? ` (${tier})` : ""}`];
  if (Number.isFinite(daily) && daily > 0) parts.push(`${n(daily)} a day${Number.isFinite(left) ? `, ${n(left)} left today` : ""}`);
  add("ok", "rate limits", parts.join("; "));
}

/** One read per enabled type; per write-back type, whether writes and hubsync's property are allowed. */
async function checkType(api: HubSpotApi, t: EnabledType, add: (v: Verdict, c: string, r: string, t?: string) => void): Promise<void> {
  const scopeOf = (err: unknown, fallback: string) => /lacks scope ([^\s—]+(?:, [^\s—]+)*)/.exec(err instanceof Error ? err.message : "")?.[1] ?? fallback;
  if (t.object_type === LISTS) return checkLists(api, t, add, scopeOf);
  try {
    await api.listPage(t.object_type, { limit: 1, properties: [] });
    add("ok", `read ${t.object_type}`, "allowed");
  } catch (err) {
    if (!(err instanceof MissingScopesError)) throw err;
    const scope = scopeOf(err, `crm.objects.${t.object_type}.read`);
    add("fail", `read ${t.object_type}`, `refused (403): missing scope ${scope}`, `add scope ${scope} to the key`);
    return;
  }
  if (!t.write_back) return;
  // HubSpot checks scopes before it reads a body: an empty batch shows a missing write scope
  // without writing anything (any other refusal means the scope is there).
  try {
    await api.request("general", { method: "POST", path: api.paths.objects.batch(t.object_type, "update"), body: { inputs: [] } }, { label: `write check ${t.object_type}` });
    add("ok", `write ${t.object_type}`, "allowed");
  } catch (err) {
    if (err instanceof MissingScopesError) {
      const scope = scopeOf(err, `crm.objects.${t.object_type}.write`);
      add("fail", `write ${t.object_type}`, `refused (403): missing scope ${scope}`, `add scope ${scope} to the key, or disable_write_back('${t.object_type}')`);
      return;
    }
    if (!isRejection(err)) throw err;
    add("ok", `write ${t.object_type}`, "allowed");
  }
  const properties = await api.properties(t.object_type);
  if (properties.some((p) => p.name === LOCAL_ID_PROPERTY)) return;
  try {
    await api.request("general", { method: "POST", path: api.paths.properties.list(t.object_type), body: {} }, { label: `property check ${t.object_type}` });
  } catch (err) {
    if (err instanceof MissingScopesError) {
      const scope = scopeOf(err, `crm.schemas.${t.object_type}.write`);
      add("fail", `property ${t.object_type}.${LOCAL_ID_PROPERTY}`, `cannot be created (403): missing scope ${scope}`, `add scope ${scope} (creates come as upserts keyed by it)`);
      return;
    }
    if (!(err instanceof HubSpotError) || !isRejection(err)) throw err;
  }
  add("ok", `property ${t.object_type}.${LOCAL_ID_PROPERTY}`, "hubsync may create it");
}

/** Webhooks need a project app's client secret; a Service Key has none, so pulls carry every change. */
function checkWebhooks(source: NodeJS.ProcessEnv, types: EnabledType[] | null, add: (v: Verdict, c: string, r: string, t?: string) => void): void {
  if (!source.HUBSPOT_WEBHOOK_SECRET) {
    add("warn", "webhooks", "off (no HUBSPOT_WEBHOOK_SECRET): changes arrive by polling", "for webhooks: a project-based app's client secret (Service Keys have none)");
    return;
  }
  const pulled = (types ?? []).map((t) => t.object_type).filter((t) => !WEBHOOK_TYPES.includes(t));
  add(
    "ok",
    "webhooks",
    `signatures checked with HUBSPOT_WEBHOOK_SECRET${pulled.length ? `; ${pulled.join(", ")} stay on pulls (HubSpot offers no webhooks for them)` : ""}`,
    "subscribe the project app to the synced types and point it at `hubsync webhooks`",
  );
}

async function checkInbox(pool: pg.Pool, source: NodeJS.ProcessEnv, add: (v: Verdict, c: string, r: string, t?: string) => void): Promise<void> {
  if (!source.HUBSPOT_WEBHOOK_SECRET) return;
  const { rows } = await pool.query<{ last: Date | null }>(`select max(received_at) as last from hubsync.webhook_events`);
  const last = rows[0]?.last;
  add(last ? "ok" : "warn", "webhook inbox", last ? `last event received ${last.toISOString().slice(0, 19).replace("T", " ")} UTC` : "no event received yet", last ? "" : "check the app's target URL and subscriptions");
}

/** Whether sync can work: no row failed. */
export function doctorPassed(rows: CheckRow[]): boolean {
  return rows.every((r) => r.verdict !== "fail");
}

/** The rows as an aligned table: status, check, result, what to do. */
export function formatDoctor(rows: CheckRow[]): string {
  const cells = rows.map((r) => [r.verdict === "ok" ? "ok" : r.verdict.toUpperCase(), r.check, r.result, r.todo]);
  const head = ["", "CHECK", "RESULT", "WHAT TO DO"];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.slice().map((c) => (i < 3 ? c[i]!.length : 0))));
  const line = (c: string[]) => c.map((v, i) => (i < 3 ? v.padEnd(widths[i]!) : v)).join("  ").trimEnd();
  return [line(head), ...cells.map(line)].join("\n") + "\n";
}
