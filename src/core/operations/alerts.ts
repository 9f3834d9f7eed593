import type pg from "pg";
import { z } from "zod";
import type { Logger } from "../log.ts";

/**
 * Alerts that reach a person. hubsync.alerts says what needs one now; hubsync.check_alerts()
 * turns its changes into transitions (one row of hubsync.alert_events and one NOTIFY
 * hubsync_alerts per open or close). Every worker and webhook receiver runs the check on a timer
 * of its own, outside graphile-worker: the "no worker running" alert must go out from a receiver
 * when every worker is dead, and a slow webhook target never holds a job slot. With
 * HUBSYNC_ALERT_WEBHOOK_URL each transition is posted once, retried with backoff until the target
 * takes it (a day at most), whichever process gets to it first.
 */

export const AlertEvent = z.object({
  id: z.coerce.string(),
  kind: z.string(),
  subject: z.string(),
  transition: z.enum(["open", "close"]),
  message: z.string(),
  at: z.coerce.date(),
});
export type AlertEvent = z.infer<typeof AlertEvent>;

/** Runs hubsync.check_alerts(): the transitions since the last check, already NOTIFYed. */
export async function checkAlerts(pool: pg.Pool): Promise<AlertEvent[]> {
  const { rows } = await pool.query(`select id, kind, subject, transition, message, at from hubsync.check_alerts()`);
  return rows.map((r) => AlertEvent.parse(r));
}

/** A Slack-compatible body (`text`), with the fields a program would want beside it. */
export function alertPayload(e: AlertEvent): Record<string, unknown> {
  const verb = e.transition === "open" ? ":rotating_light: hubsync alert" : ":white_check_mark: hubsync alert resolved";
  return {
    text: `${verb}: ${e.kind} (${e.subject}): ${e.message}`,
    kind: e.kind,
    subject: e.subject,
    state: e.transition === "open" ? "open" : "closed",
    message: e.message,
    at: e.at.toISOString(),
  };
}

const POST_TIMEOUT_MS = 10_000;
/** A claimed event is someone else's for this long: longer than one post can take. */
const LEASE_S = 60;

/**
 * Posts the transitions not delivered yet (of the last day) to `url`. Each is claimed with a lease
 * first, so two processes never post the same one at once, and a process that dies mid-post
 * leaves it to the next. A failed post waits 5 s, 10 s, 20 s ... up to an hour.
 */
export async function deliverAlerts(pool: pg.Pool, url: string, log: Logger): Promise<number> {
  const { rows } = await pool.query(
    `with due as (
       select id from hubsync.alert_events
        where delivered_at is null and next_attempt_at <= now() and at > now() - interval '1 day'
        order by id limit 20 for update skip locked)
     update hubsync.alert_events e set next_attempt_at = now() + make_interval(secs => $1), attempts = e.attempts + 1
       from due where e.id = due.id
     returning e.id, e.kind, e.subject, e.transition, e.message, e.at, e.attempts`,
    [LEASE_S],
  );
  let delivered = 0;
  for (const row of rows.sort((a, b) => Number(a.id) - Number(b.id))) {
    const e = AlertEvent.parse(row);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(alertPayload(e)),
        signal: AbortSignal.timeout(POST_TIMEOUT_MS),
      });
      await res.body?.cancel().catch(() => {});
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      await pool.query(`update hubsync.alert_events set delivered_at = now(), last_error = null where id = $1`, [e.id]);
      delivered++;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await pool.query(
        `update hubsync.alert_events set last_error = $2, next_attempt_at = now() + make_interval(secs => least(3600, 5 * power(2, attempts - 1)))
          where id = $1`,
        [e.id, message.slice(0, 500)],
      );
      // the URL may carry a secret (Slack's do): never logged
      log.warn({ alert: e.kind, subject: e.subject, transition: e.transition, err: message, attempts: row.attempts }, "could not post an alert to HUBSYNC_ALERT_WEBHOOK_URL; retrying");
    }
  }
  return delivered;
}

export interface AlertWatch {
  /** One check and delivery now (what the timer does). */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Checks hubsync.alerts every `alerts.check_seconds` (hubsync.settings; `intervalMs` overrides it)
 * and posts the transitions when `webhookUrl` is set. Failures are logged and tried again at the
 * next tick: alerts never stop the process they run in.
 */
export async function watchAlerts(opts: { pool: pg.Pool; log: Logger; webhookUrl?: string | null; intervalMs?: number }): Promise<AlertWatch> {
  const log = opts.log.child({ component: "alerts" });
  const intervalMs = opts.intervalMs ?? (await checkSeconds(opts.pool)) * 1000;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const once = async () => {
    try {
      for (const e of await checkAlerts(opts.pool)) {
        if (e.transition === "open") log.warn({ alert: e.kind, subject: e.subject, message: e.message }, "alert opened");
        else log.info({ alert: e.kind, subject: e.subject }, "alert closed");
      }
      if (opts.webhookUrl) await deliverAlerts(opts.pool, opts.webhookUrl, log);
    } catch (err) {
      if (!stopped) log.warn({ err: err instanceof Error ? err.message : String(err) }, "could not check alerts");
    }
  };
  const tick = () => (running = running.then(once));
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  void tick();
  return {
    tick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

async function checkSeconds(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ s: string | null }>(`select hubsync._setting_number('alerts.check_seconds', 30)::text as s`);
  const s = Number(rows[0]?.s);
  return Number.isFinite(s) && s >= 1 ? s : 30;
}
