import type { Command } from "../command.ts";
import { commandOptions, untilStopSignal } from "../options.ts";
import { doctor } from "./doctor.ts";
import { readEnv, requireDatabaseUrl } from "../../core/config.ts";
import { createPool } from "../../core/db/pool.ts";
import type pg from "pg";
import { z } from "zod";

const Options = z.object({
  json: z.boolean().default(false),
  check: z.boolean().default(false),
  watch: z.boolean().default(false),
  interval: z.coerce.number().min(0.1, "must be at least 0.1 seconds").default(2),
});

const USAGE = `usage: hubsync status [--json] [--check] [--watch [--interval SECONDS]]

Prints hubsync.status (one row per object type: phase, rows, last pull, lag, pending and rejected
changes, last error) as a table, and a line about the webhook inbox once webhooks arrive.
  --json        the rows as JSON instead
  --check       run hubsync doctor's checks instead (database, install, token, scopes, limits, webhooks)
  --watch       keep the table on screen, refreshed in place with the rate budget, until Ctrl-C
  --interval S  seconds between refreshes with --watch (default 2)`;

export const command: Command = {
  async run(argv) {
    const parsed = commandOptions(
      "status",
      argv,
      { json: { type: "boolean" }, check: { type: "boolean" }, watch: { type: "boolean" }, interval: { type: "string" } },
      Options,
      USAGE,
    );
    if ("exit" in parsed) return parsed.exit;
    const values = parsed.options;
    if (values.check) return doctor();
    const pool = createPool(requireDatabaseUrl(readEnv()), { max: 1, applicationName: "hubsync status" });
    try {
      const installed = await pool.query<{ ok: boolean }>("select to_regclass('hubsync.status') is not null as ok");
      if (!installed.rows[0]?.ok) throw new Error("hubsync status: hubsync is not installed in this database; run `hubsync install` first");
      if (values.watch) return await watch(pool, values.interval * 1000, process.stdout);
      const parsed = await readStatus(pool);
      if (values.json) {
        process.stdout.write(JSON.stringify(parsed, null, 2) + "\n");
        return 0;
      }
      const inbox = await pool.query(
        `select pending::int, failed::int, last_received_at, lag_p95_ms::int, last_error from hubsync.webhook_status where last_received_at is not null`,
      );
      const webhooks = inbox.rows[0] ? WebhookInboxRow.parse(inbox.rows[0]) : null;
      const quota = await pool.query<{ projection: string | null }>(`select daily_quota_projection as projection from hubsync.status limit 1`);
      const day = quota.rows[0]?.projection ? `HubSpot daily quota: ${quota.rows[0].projection}\n` : "";
      process.stdout.write(formatStatus(parsed, new Date()) + formatChanges(parsed, webhooks !== null) + (webhooks ? formatWebhookInbox(webhooks, new Date()) : "") + day);
      return 0;
    } finally {
      await pool.end();
    }
  },
};

async function readStatus(pool: pg.Pool): Promise<StatusRow[]> {
  const { rows } = await pool.query(
    `select object_type, enabled, write_back, phase, rows::text as rows, last_pull_at,
            extract(epoch from lag)::float8 as lag_seconds, pending::int, rejected::int, last_error, last_error_at, changes, backfill_since
       from hubsync.status order by object_type`,
  );
  return rows.map((r) => StatusRow.parse(r));
}

/** One bucket of hubsync.rate_budget: reservations in its current window, and the daily quota HubSpot last reported. */
export const BudgetRow = z.object({
  bucket: z.string(),
  capacity: z.number().int(),
  window_ms: z.number().int(),
  in_window: z.number().int(),
  blocked_until: z.date().nullable(),
  blocked_message: z.string().nullable(),
  daily_limit: z.number().nullable(),
  daily_remaining: z.number().nullable(),
});
export type BudgetRow = z.infer<typeof BudgetRow>;

async function readBudget(pool: pg.Pool): Promise<BudgetRow[]> {
  const { rows } = await pool.query(
    `select bucket, capacity, window_ms,
            (select count(*) from unnest(slots) s where s > clock_timestamp() - make_interval(secs => window_ms / 1000.0))::int as in_window,
            case when blocked_until > clock_timestamp() then blocked_until end as blocked_until,
            case when blocked_until > clock_timestamp() then blocked_message end as blocked_message,
            daily_limit::float8 as daily_limit, daily_remaining::float8 as daily_remaining
       from hubsync.rate_budget order by bucket = 'general' desc, bucket`,
  );
  return rows.map((r) => BudgetRow.parse(r));
}

/** The rate budget in one line: each bucket's use of its window, the daily quota left, a pause. */
export function formatBudget(rows: BudgetRow[], now: Date): string {
  if (rows.length === 0) return "budget: -";
  const windows = rows.map((b) => `${b.bucket} ${b.in_window}/${b.capacity} per ${formatDuration(b.window_ms / 1000)}`);
  const daily = rows.find((b) => b.daily_limit !== null && b.daily_remaining !== null);
  const blocked = rows.find((b) => b.blocked_until !== null);
  return [
    `budget: ${windows.join(", ")}`,
    ...(daily ? [`daily ${daily.daily_remaining!.toLocaleString("en-US")} of ${daily.daily_limit!.toLocaleString("en-US")} left`] : []),
    ...(blocked ? [`${blocked.bucket} waiting ${formatDuration((blocked.blocked_until!.getTime() - now.getTime()) / 1000)}${blocked.blocked_message ? `: ${blocked.blocked_message}` : ""}`] : []),
  ].join("; ");
}

/**
 * `status --watch`: the table as `watch hubsync status` would show it. On a terminal each frame is
 * written over the last from the top left (cursor home, every line cleared to its end, the rest of
 * the screen cleared below it), which does not flicker as clearing the screen first would; piped,
 * the frames follow one another as plain text.
 */
async function watch(pool: pg.Pool, intervalMs: number, out: NodeJS.WriteStream): Promise<number> {
  const tty = out.isTTY === true;
  let stopped = false;
  let wake: () => void = () => {};
  void untilStopSignal().then(() => {
    stopped = true;
    wake();
  });
  if (tty) out.write("\x1b[?25l\x1b[H\x1b[2J"); // hide the cursor; one clear before the first frame
  try {
    while (!stopped) {
      const now = new Date();
      const [rows, budget] = await Promise.all([readStatus(pool), readBudget(pool)]);
      const heading = `every ${intervalMs / 1000}s: hubsync status  ${utc(now)} UTC  (Ctrl-C to stop)`;
      out.write(renderFrame([heading, "", ...formatStatus(rows, now).trimEnd().split("\n"), "", formatBudget(budget, now)], tty));
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, intervalMs).unref();
      });
    }
  } finally {
    if (tty) out.write("\x1b[?25h");
  }
  return 0;
}

/** One frame of `status --watch`: for a terminal, drawn over the previous one; otherwise plain lines and a blank one after. */
export function renderFrame(lines: string[], tty: boolean): string {
  if (!tty) return `${lines.join("\n")}\n\n`;
  return `\x1b[H${lines.map((l) => `${l}\x1b[K`).join("\n")}\n\x1b[J`;
}

/** One row of hubsync.status as `hubsync status` reads it. */
export const StatusRow = z.object({
  object_type: z.string(),
  enabled: z.boolean(),
  write_back: z.boolean(),
  phase: z.string(),
  rows: z.string().nullable(),
  last_pull_at: z.date().nullable(),
  lag_seconds: z.number().nullable(),
  pending: z.number().int(),
  rejected: z.number().int(),
  last_error: z.string().nullable(),
  last_error_at: z.date().nullable(),
  /** 'webhooks' when HubSpot sends webhooks for the type, 'pull' when only the pull brings its changes. */
  changes: z.enum(["webhooks", "pull"]),
  /** The backfill horizon: only records modified since then were backfilled (null: every record). */
  backfill_since: z.date().nullable(),
});
export type StatusRow = z.infer<typeof StatusRow>;

/** The webhook inbox (hubsync.webhook_status), shown once any webhook has arrived. */
export const WebhookInboxRow = z.object({
  pending: z.number().int(),
  failed: z.number().int(),
  last_received_at: z.date(),
  lag_p95_ms: z.number().int().nullable(),
  last_error: z.string().nullable(),
});
export type WebhookInboxRow = z.infer<typeof WebhookInboxRow>;

/**
 * Which enabled types get HubSpot's changes in real time and which wait for the minute pull.
 * HubSpot sends webhooks for some types only; until a webhook has arrived, none is real time yet.
 */
export function formatChanges(rows: StatusRow[], webhooksArriving: boolean): string {
  const enabled = rows.filter((r) => r.enabled);
  const hooked = enabled.filter((r) => r.changes === "webhooks").map((r) => r.object_type);
  const pulled = enabled.filter((r) => r.changes === "pull").map((r) => r.object_type);
  const lines: string[] = [];
  if (hooked.length > 0) {
    lines.push(
      webhooksArriving
        ? `real-time changes (webhooks): ${hooked.join(", ")}`
        : `no webhook received yet: ${hooked.join(", ")} wait for the minute pull until HubSpot's webhooks reach \`hubsync webhooks\``,
    );
  }
  if (pulled.length > 0) lines.push(`minute pull only (HubSpot sends no webhooks for them): ${pulled.join(", ")}`);
  return lines.length > 0 ? `\n${lines.join("\n")}\n` : "";
}

export function formatWebhookInbox(w: WebhookInboxRow, now: Date): string {
  const parts = [
    `last event ${formatDuration((now.getTime() - w.last_received_at.getTime()) / 1000)} ago`,
    `${w.pending} waiting`,
    `${w.failed} failed`,
    ...(w.lag_p95_ms === null ? [] : [`change → row p95 ${w.lag_p95_ms} ms (last hour)`]),
    ...(w.failed > 0 && w.last_error ? [`last error: ${w.last_error.replace(/\s+/g, " ").slice(0, MAX_ERROR)}`] : []),
  ];
  return `\nwebhooks: ${parts.join("; ")}\n`;
}

const HEADERS = ["OBJECT", "ENABLED", "WRITE-BACK", "PHASE", "ROWS", "LAST PULL (UTC)", "LAG", "PENDING", "REJECTED", "LAST ERROR"];
const RIGHT_ALIGNED = new Set(["ROWS", "LAG", "PENDING", "REJECTED"]);
// long enough for the pause sentences ("HubSpot daily API limit reached; waiting until …") to say what to do
const MAX_ERROR = 100;

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

const utc = (d: Date) => d.toISOString().replace("T", " ").slice(0, 19);

function errorCell(r: StatusRow, now: Date): string {
  if (!r.last_error) return "";
  const text = r.last_error.replace(/\s+/g, " ");
  const short = text.length > MAX_ERROR ? `${text.slice(0, MAX_ERROR - 1)}…` : text;
  return r.last_error_at ? `${short} (${formatDuration((now.getTime() - r.last_error_at.getTime()) / 1000)} ago)` : short;
}

/** hubsync.status as an aligned text table, the way an operator reads it in a terminal. */
export function formatStatus(rows: StatusRow[], now: Date): string {
  if (rows.length === 0) return "No object types enabled yet. Start with: select hubsync.enable_sync('contacts');\n";
  const cells = rows.map((r) => [
    r.object_type,
    r.enabled ? "yes" : "no",
    r.write_back ? "on" : "off",
    r.backfill_since ? `${r.phase} (since ${r.backfill_since.toISOString().slice(0, 10)})` : r.phase,
    r.rows === null ? "-" : Number(r.rows).toLocaleString("en-US"),
    r.last_pull_at ? utc(r.last_pull_at) : "never",
    r.lag_seconds === null ? "-" : formatDuration(r.lag_seconds),
    String(r.pending),
    String(r.rejected),
    errorCell(r, now),
  ]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (RIGHT_ALIGNED.has(HEADERS[i] as string) ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(HEADERS), ...cells.map(line)].join("\n") + "\n";
}
