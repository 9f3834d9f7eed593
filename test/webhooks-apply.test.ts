import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../src/tools/shared/wait.ts";
import { createPool } from "../src/core/db/pool.ts";
import { compareWithSimulator } from "../src/tools/verify/compare.ts";
import { applyWebhookEvents } from "../src/core/webhooks/apply.ts";
import { startReceiver, type RunningReceiver } from "../src/core/webhooks/receiver.ts";
import { startWorker, type RunningWorker } from "../src/core/worker/runner.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker, enableSync, quietLog } from "./support/worker.ts";
import { testSimulator, type TestSimulator } from "./support/simulator.ts";
import { event, postBatch, testConfig } from "./support/webhooks.ts";

// Hand-signed HubSpot batches through the real receiver, applied by the real worker against the
// simulator. The worker runs without a crontab: only the webhooks bring changes in.

let db: TestDatabase;
let sim: TestSimulator;
let worker: RunningWorker | null = null;
let receiver: RunningReceiver;
let pool: ReturnType<typeof createPool>;
const contacts: string[] = [];
const companies: string[] = [];
let carTypeId = "";
let car = "";

const until = <T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 15_000) =>
  waitFor(what, async () => (await fn()) || undefined, { timeoutMs, intervalMs: 50 });

const post = async (events: unknown[]) => {
  const res = await postBatch(receiver.url, events);
  expect(res.status, res.body).toBe(204);
};

async function contactRow(id: string): Promise<{ firstname: string | null; email: string | null } | null> {
  const { rows } = await db.pool.query(`select firstname, email from hubspot.contacts where id = $1`, [id]);
  return rows[0] ?? null;
}

async function drained(): Promise<boolean> {
  const { rows } = await db.pool.query(`select pending, failed from hubsync.webhook_status`);
  return Number(rows[0].pending) === 0 && Number(rows[0].failed) === 0;
}

beforeAll(async () => {
  db = await installedDatabase("webhooks_apply");
  sim = await testSimulator();
  for (let i = 0; i < 12; i++) contacts.push((await sim.control.createRecord("contacts", { email: `a${i}@example.com`, firstname: `A${i}` })).id);
  for (let i = 0; i < 3; i++) companies.push((await sim.control.createRecord("companies", { name: `Co ${i}`, domain: `co${i}.example.com` })).id);
  const schema = await sim.control.createCustomObject({
    name: "cars",
    labels: { singular: "Car", plural: "Cars" },
    primaryDisplayProperty: "model",
    properties: [{ name: "model", type: "string", label: "Model" }],
  });
  carTypeId = String(schema.objectTypeId);
  car = (await sim.control.createRecord("cars", { model: "T" })).id;
  const crontab = join(mkdtempSync(join(tmpdir(), "hubsync-webhooks-")), "crontab");
  writeFileSync(crontab, "# nothing scheduled: webhooks only\n");
  process.env.DATABASE_URL = db.url;
  process.env.HUBSPOT_ACCESS_TOKEN = sim.token;
  process.env.HUBSPOT_BASE_URL = sim.url;
  worker = await startWorker({ databaseUrl: db.url, concurrency: 3, handleSignals: false, log: quietLog, crontabFile: crontab });
  await enableSync(db.pool, "contacts");
  await enableSync(db.pool, "companies");
  await enableSync(db.pool, "cars");
  await until(
    "contacts, companies, cars and the contact-company association table to be live",
    async () => {
      const { rows } = await db.pool.query(
        `select (select count(*) from hubsync.objects where phase = 'live') as live,
                (select count(*) from hubsync.association_pairs where table_name = 'associations_company_contact' and backfilled_at is not null) as pairs`,
      );
      return Number(rows[0].live) === 3 && Number(rows[0].pairs) === 1;
    },
    40_000,
  );
  pool = createPool(db.url, { max: 4 });
  receiver = await startReceiver({ pool, config: testConfig(), log: quietLog });
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await receiver?.close();
  await pool?.end();
  await sim?.close();
  await db?.drop();
});

describe("webhook events applied by the worker — one story, in order: later tests build on what earlier ones left", () => {
  it("creations, property changes, deletions and restores land in hubspot.*", async () => {
    const created = await sim.control.createRecord("contacts", { email: "new@example.com", firstname: "New" });
    await post([event("contact.creation", { objectId: Number(created.id) })]);
    await until("the created contact", async () => (await contactRow(created.id))?.firstname === "New");

    await sim.control.updateRecord("contacts", created.id, { firstname: "Renamed" });
    await post([event("contact.propertyChange", { objectId: Number(created.id), propertyName: "firstname", propertyValue: "Renamed" })]);
    await until("the property change", async () => (await contactRow(created.id))?.firstname === "Renamed");

    await sim.control.archiveRecord("contacts", created.id);
    await post([event("contact.deletion", { objectId: Number(created.id) })]);
    await until("the deleted contact to leave the table", async () => (await contactRow(created.id)) === null);

    await sim.control.restoreRecord("contacts", created.id);
    await post([event("contact.restore", { objectId: Number(created.id) })]);
    await until("the restored contact", async () => (await contactRow(created.id))?.firstname === "Renamed");

    // the generic form: object.* with objectTypeId (companies are 0-2)
    await sim.control.updateRecord("companies", companies[0]!, { name: "Generic Co" });
    await post([event("object.propertyChange", { objectTypeId: "0-2", objectId: Number(companies[0]), propertyName: "name", propertyValue: "Generic Co" })]);
    await until("the company change", async () => {
      const { rows } = await db.pool.query(`select name from hubspot.companies where id = $1`, [companies[0]]);
      return rows[0]?.name === "Generic Co";
    });

    // a custom object: object.* with its 2-… type id
    await sim.control.updateRecord("cars", car, { model: "Model S" });
    await post([event("object.propertyChange", { objectTypeId: carTypeId, objectId: Number(car), propertyName: "model", propertyValue: "Model S" })]);
    await until("the custom object change", async () => {
      const { rows } = await db.pool.query(`select model from hubspot.cars where id = $1`, [car]);
      return rows[0]?.model === "Model S";
    });

    await until("the inbox to drain", drained);
    const { rows } = await db.pool.query(`select status, object_type, count(*)::int as n from hubsync.webhook_events group by 1, 2 order by 2`);
    expect(rows).toEqual([
      { status: "done", object_type: "cars", n: 1 },
      { status: "done", object_type: "companies", n: 1 },
      { status: "done", object_type: "contacts", n: 4 },
    ]);
  });

  it("a merge re-keys the merged rows to the new record and records them in hubsync.merges", async () => {
    const [primary, secondary] = [contacts[0]!, contacts[1]!];
    expect(await contactRow(secondary)).not.toBeNull();
    const merged = await sim.control.mergeRecords("contacts", primary, secondary);
    await post([event("contact.merge", { objectId: Number(merged.id), primaryObjectId: Number(primary), mergedObjectIds: [Number(secondary)], newObjectId: Number(merged.id) })]);
    await until("the new record to take the merged rows' place", async () =>
      (await contactRow(secondary)) === null && (await contactRow(primary)) === null && (await contactRow(merged.id)) !== null,
    );
    const merges = await db.pool.query(`select merged_id, winner_id from hubsync.merges where object_type = 'contacts' order by merged_id::bigint`);
    expect(merges.rows).toEqual([primary, secondary].map((id) => ({ merged_id: id, winner_id: merged.id })));

    // where HubSpot answers a merged-away id with 404, and with the events in reverse order
    await sim.control.configure({ mergedIdLookup: "404" });
    try {
      const other = contacts[11]!;
      const again = await sim.control.mergeRecords("contacts", merged.id, other);
      await post([
        event("contact.propertyChange", { objectId: Number(other), propertyName: "firstname", propertyValue: "x" }),
        event("contact.merge", { objectId: Number(again.id), primaryObjectId: Number(merged.id), mergedObjectIds: [Number(other)], newObjectId: Number(again.id) }),
      ]);
      await until("the second merge's rows to be re-keyed", async () => (await contactRow(other)) === null && (await contactRow(again.id)) !== null);
      const chained = await db.pool.query(`select count(*)::int as n from hubsync.merges where object_type = 'contacts' and winner_id = $1`, [again.id]);
      expect(chained.rows[0].n).toBe(4); // the first merge's ids now lead to the second's record too
    } finally {
      await sim.control.configure({ mergedIdLookup: "winner" });
    }
    await until("the inbox to drain", drained);
  });

  it("a GDPR deletion removes the row", async () => {
    const id = contacts[9]!;
    expect(await contactRow(id)).not.toBeNull();
    const purge = await fetch(`${sim.url}/crm/v3/objects/contacts/gdpr-delete`, {
      method: "POST",
      headers: { authorization: `Bearer ${sim.token}`, "content-type": "application/json" },
      body: JSON.stringify({ objectId: id }),
    });
    expect(purge.status).toBe(204);
    await post([event("contact.privacyDeletion", { objectId: Number(id) }), event("contact.deletion", { objectId: Number(id) })]);
    await until("the purged contact to leave the table", async () => (await contactRow(id)) === null);
  });

  it("association changes re-read both ends' associations", async () => {
    const [contact, company] = [contacts[2]!, companies[1]!];
    const pair = async () =>
      (await db.pool.query(`select 1 from hubspot.associations_company_contact where contact_id = $1 and company_id = $2`, [contact, company])).rowCount === 1;
    expect(await pair()).toBe(false);
    await until("all five association tables of contacts, companies and cars to be filled", async () => {
      const { rows } = await db.pool.query(`select count(*)::int as n from hubsync.association_pairs where backfilled_at is not null`);
      return rows[0].n === 5;
    });
    // The reads counted below must be this event's: the association work the earlier tests' events
    // queued (a merge re-reads the merged records' associations) is let finish first.
    await until("the worker to have nothing queued or running", async () => {
      const { rows } = await db.pool.query(`select count(*)::int as n from hubsync_worker.jobs where locked_at is not null or run_at <= now()`);
      return rows[0].n === 0;
    });
    await sim.control.associate("contacts", contact, "companies", company);
    const since = Date.now();
    const change = { associationType: "CONTACT_TO_COMPANY", fromObjectId: Number(contact), toObjectId: Number(company), associationTypeId: 1 };
    await post([event("contact.associationChange", { ...change, associationRemoved: false })]);
    await until("the association row", pair);
    // only the pair the event names is read again, not the four other pairs the two records are ends
    // of; the row shows after the first end's read, so the second end's is waited for
    const readPaths = async () =>
      new Set((await sim.control.requests({ since })).filter((r) => r.path.startsWith("/crm/associations/2026-09/") && r.path.endsWith("/batch/read")).map((r) => r.path));
    await until("both ends' association reads", async () => (await readPaths()).size >= 2);
    expect(await readPaths()).toEqual(new Set(["/crm/associations/2026-09/0-1/0-2/batch/read", "/crm/associations/2026-09/0-2/0-1/batch/read"]));

    await sim.control.unassociate("contacts", contact, "companies", company);
    const again = Date.now();
    // only the company's side is subscribed: the other end is found from associationType
    await post([event("company.associationChange", { associationType: "COMPANY_TO_CONTACT", fromObjectId: Number(company), toObjectId: Number(contact), associationRemoved: true })]);
    await until("the association row to go", async () => !(await pair()));
    // the pair's label definitions were read moments ago: not asked for again
    const labelReads = (await sim.control.requests({ since: again })).filter((r) => r.path.endsWith("/labels"));
    expect(labelReads).toEqual([]);
  });

  it("duplicates and reversed order converge on HubSpot's current state", async () => {
    const ids = contacts.slice(3, 9);
    const events: Array<Record<string, unknown>> = [];
    for (let round = 1; round <= 3; round++) {
      for (const id of ids) {
        await sim.control.updateRecord("contacts", id, { firstname: `Round ${round} ${id}` });
        events.push(event("contact.propertyChange", { objectId: Number(id), propertyName: "firstname", propertyValue: `Round ${round} ${id}` }));
      }
    }
    await sim.control.archiveRecord("contacts", ids[0]!);
    events.push(event("contact.deletion", { objectId: Number(ids[0]) }));
    const fresh = await sim.control.createRecord("contacts", { email: "late@example.com", firstname: "Late" });
    events.push(event("contact.creation", { objectId: Number(fresh.id) }));

    // newest first, every event twice, in three batches posted at once
    const shuffled = [...events].reverse().flatMap((e) => [e, { ...e, attemptNumber: 1 }]);
    const third = Math.ceil(shuffled.length / 3);
    await Promise.all([0, 1, 2].map((i) => post(shuffled.slice(i * third, (i + 1) * third))));
    await until("the inbox to drain", drained);

    for (const id of ids.slice(1)) expect((await contactRow(id))?.firstname).toBe(`Round 3 ${id}`);
    expect(await contactRow(ids[0]!)).toBeNull();
    expect((await contactRow(fresh.id))?.firstname).toBe("Late");
    const comparison = await compareWithSimulator(db.pool, sim.control, ["contacts", "companies"]);
    expect(comparison.ok, comparison.summary).toBe(true);
  });

  it("events for types that are not synced are kept as ignored, with the reason", async () => {
    await post([
      event("deal.creation", { objectId: 1 }),
      event("conversation.creation", { objectId: 2 }),
      event("object.creation", { objectTypeId: "2-999", objectId: 3 }),
    ]);
    await until("the inbox to drain", drained);
    const { rows } = await db.pool.query(`select subscription_type, note from hubsync.webhook_events where status = 'ignored' order by id`);
    expect(rows).toEqual([
      { subscription_type: "deal.creation", note: expect.stringMatching(/^deals is not synced/) },
      { subscription_type: "conversation.creation", note: expect.stringMatching(/not CRM records/) },
      { subscription_type: "object.creation", note: expect.stringMatching(/object type 2-999 is not synced/) },
    ]);
    const status = await db.pool.query(`select ignored, pending, failed, lag_p95_ms from hubsync.webhook_status`);
    expect(Number(status.rows[0].ignored)).toBe(3);
    expect(status.rows[0].lag_p95_ms).not.toBeNull();
  });
});

describe("when HubSpot fails", () => {
  it("failed events stay in the inbox with the error and are retried", async () => {
    await worker?.stop();
    worker = null;
    const id = contacts[10]!;
    await sim.control.updateRecord("contacts", id, { firstname: "After the outage" });
    await post([event("contact.propertyChange", { objectId: Number(id), propertyName: "firstname", propertyValue: "After the outage" })]);
    await sim.control.configure({ faults: { serverErrorRate: 1 } });
    const deps = connectWorker(db.url, sim, { maxAttempts: 1 });
    try {
      const first = await applyWebhookEvents(deps);
      expect(first.failed).toBe(1);
      const { rows } = await db.pool.query(
        `select status, attempts, error, next_attempt_at > now() as later from hubsync.webhook_events where object_id = $1 and status <> 'done'`,
        [id],
      );
      expect(rows).toEqual([{ status: "failed", attempts: 1, error: expect.stringMatching(/^contacts: /), later: true }]);
      const retry = await db.pool.query(`select 1 from hubsync_worker.jobs where key = 'hubsync_webhook_apply:retry'`);
      expect(retry.rowCount).toBe(1);
      const status = await db.pool.query(`select failed, last_error from hubsync.webhook_status`);
      expect(status.rows[0]).toMatchObject({ failed: "1", last_error: expect.stringMatching(/^contacts: /) });

      await sim.control.configure({ faults: { serverErrorRate: 0 } });
      await until("the retry to be due", async () => (await applyWebhookEvents(deps)).events > 0, 10_000);
      expect((await contactRow(id))?.firstname).toBe("After the outage");
      expect(await drained()).toBe(true);

      // rows a crashed run held come back once its claim expires
      await sim.control.updateRecord("contacts", id, { firstname: "Claimed by a dead worker" });
      await post([event("contact.propertyChange", { objectId: Number(id), propertyName: "firstname", propertyValue: "x" })]);
      await db.pool.query(`update hubsync.webhook_events set status = 'processing', claimed_until = now() + interval '1 hour' where status = 'pending'`);
      expect((await applyWebhookEvents(deps)).events).toBe(0);
      // …and a run is queued for when the claim runs out
      const queued = await db.pool.query(`select run_at > now() + interval '59 minutes' as later from hubsync_worker.jobs where key = 'hubsync_webhook_apply:retry'`);
      expect(queued.rows).toEqual([{ later: true }]);
      await db.pool.query(`update hubsync.webhook_events set claimed_until = now() - interval '1 second' where status = 'processing'`);
      expect((await applyWebhookEvents(deps)).events).toBe(1);
      expect((await contactRow(id))?.firstname).toBe("Claimed by a dead worker");
    } finally {
      await deps.close();
    }
  });
});
