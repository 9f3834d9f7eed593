import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWebhookConfig } from "../src/core/webhooks/config.ts";
import { startReceiver, type RunningReceiver } from "../src/core/webhooks/receiver.ts";
import { sign } from "../src/core/webhooks/signature.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { quietLog } from "./support/worker.ts";

/**
 * Webhook events carrying values that are awkward for PostgreSQL, signed correctly (so HubSpot
 * would retry a refusal, then drop the batch): a property value with U+0000, which jsonb cannot
 * store, and values crafted as SQL. The batch is accepted and every event kept.
 */

const SECRET = "bad-input-webhook-secret";
let db: TestDatabase;
let receiver: RunningReceiver;

beforeAll(async () => {
  db = await installedDatabase("bad_webhooks");
  const config = readWebhookConfig({ HUBSPOT_WEBHOOK_SECRET: SECRET }, { port: 0, host: "127.0.0.1" });
  receiver = await startReceiver({ pool: db.pool, config, log: quietLog });
});

afterAll(async () => {
  await receiver?.close();
  await db?.drop();
});

async function post(events: unknown[]): Promise<number> {
  const url = `${receiver.url}/hubspot/webhooks`;
  const body = JSON.stringify(events);
  const timestamp = Date.now();
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "X-HubSpot-Signature-v3": sign("v3", SECRET, { method: "POST", url, body, timestamp }), "X-HubSpot-Request-Timestamp": String(timestamp) },
    body,
  });
  await res.text();
  return res.status;
}

const event = (eventId: number, propertyValue: string) => ({
  eventId,
  portalId: 1,
  appId: 1,
  occurredAt: Date.now(),
  subscriptionType: "contact.propertyChange",
  attemptNumber: 0,
  objectId: 101,
  propertyName: "firstname",
  propertyValue,
});

describe("awkward values in webhook events", () => {
  it("a value with U+0000 or a lone surrogate and values crafted as SQL are accepted and stored (U+0000 dropped, U+FFFD for the surrogate)", async () => {
    const status = await post([
      event(1, "before\u0000after"),
      event(2, `'); drop table hubsync.webhook_events; --`),
      event(3, `$1 %s \\ "quoted"`),
      event(4, "lone \ud800 half"),
    ]);
    expect(status).toBeLessThan(300);
    const { rows } = await db.pool.query(`select event_id::int, event ->> 'propertyValue' as value from hubsync.webhook_events order by event_id`);
    expect(rows).toEqual([
      { event_id: 1, value: "beforeafter" },
      { event_id: 2, value: `'); drop table hubsync.webhook_events; --` },
      { event_id: 3, value: `$1 %s \\ "quoted"` },
      { event_id: 4, value: "lone \ufffd half" },
    ]);
  });
});
