import type pg from "pg";
import { sign, type SignatureVersion } from "../../src/core/webhooks/signature.ts";
import type { WebhookConfig } from "../../src/core/webhooks/config.ts";
import { WEBHOOK_PATH } from "../../src/core/webhooks/receiver.ts";

export const SECRET = "webhook-client-secret-for-tests-3f9a";

export function testConfig(overrides: Partial<WebhookConfig> = {}): WebhookConfig {
  return { secret: SECRET, accept: ["v3"], publicUrl: null, port: 0, host: "127.0.0.1", rate: { perSecond: 0, burst: 1 }, ...overrides };
}

/** Headers HubSpot would send for `body` posted to `url`, signed with `secret` in `version`. */
export function signedHeaders(version: SignatureVersion, url: string, body: string, opts: { secret?: string; timestamp?: number } = {}): Record<string, string> {
  const secret = opts.secret ?? SECRET;
  if (version === "v3") {
    const timestamp = opts.timestamp ?? Date.now();
    return {
      "x-hubspot-signature-v3": sign("v3", secret, { method: "POST", url, body, timestamp }),
      "x-hubspot-request-timestamp": String(timestamp),
    };
  }
  return { "x-hubspot-signature": sign(version, secret, { method: "POST", url, body }), "x-hubspot-signature-version": version };
}

/** POSTs `events` (or a raw body) to the receiver, signed like HubSpot does unless `headers` are given. */
export async function postBatch(
  receiverUrl: string,
  events: unknown,
  opts: { version?: SignatureVersion; secret?: string; timestamp?: number; headers?: Record<string, string>; raw?: string } = {},
): Promise<{ status: number; ms: number; body: string; headers: Headers }> {
  const url = `${receiverUrl}${WEBHOOK_PATH}`;
  const body = opts.raw ?? JSON.stringify(events);
  const headers = opts.headers ?? signedHeaders(opts.version ?? "v3", url, body, opts);
  const started = performance.now();
  const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
  const text = await res.text();
  return { status: res.status, ms: performance.now() - started, body: text, headers: res.headers };
}

let eventId = 1;
/** One HubSpot v3 event (numbers for ids, as HubSpot sends them). */
export function event(subscriptionType: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { eventId: eventId++, subscriptionId: 1, portalId: 1, appId: 1, occurredAt: Date.now(), attemptNumber: 0, changeSource: "API", subscriptionType, ...fields };
}

export async function inboxCount(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`select count(*)::int as n from hubsync.webhook_events`);
  return rows[0]!.n;
}
