import { spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Signature, type Client } from "@hubspot/api-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebhookBatch, type WebhookEvent } from "../src/core/webhooks/events.ts";
import { simulatorControl } from "../src/simulator/control-client.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { testSimulator, type TestSimulator } from "./support/simulator.ts";

// The simulator's webhooks: signed HubSpot v3 batches POSTed to a real node:http receiver, with retries.

const SECRET = "client-secret-for-tests";

interface Delivery {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  events: WebhookEvent[];
}

/** What the receiver does with the n-th request (0-based): answer a status (with headers), or never answer. */
type Answer = (n: number) => number | { status: number; headers: Record<string, string> } | "hang";

interface Receiver {
  url: string;
  deliveries: Delivery[];
  /** Highest number of requests open at once. */
  maxOpen: number;
  events(): WebhookEvent[];
  close(): Promise<void>;
}

async function receiver(answer: Answer = () => 200, delayMs = 0): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  let open = 0;
  const state = { maxOpen: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const n = deliveries.length;
      deliveries.push({ at: Date.now(), headers: req.headers, body, events: WebhookBatch.parse(JSON.parse(body)) });
      const reply = answer(n);
      if (reply === "hang") return;
      open++;
      state.maxOpen = Math.max(state.maxOpen, open);
      setTimeout(() => {
        open--;
        if (typeof reply === "number") res.writeHead(reply).end();
        else res.writeHead(reply.status, reply.headers).end();
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    // A query string too: HubSpot signs the full URL.
    url: `http://127.0.0.1:${port}/hubspot/webhooks?app=1`,
    deliveries,
    get maxOpen() {
      return state.maxOpen;
    },
    events: () => deliveries.flatMap((d) => d.events),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Signatures checked with the SDK's own helper, as an app would: each version the request carries, or null when absent. */
function sdkAccepts(d: Delivery, url: string): { v3: boolean | null; legacy: boolean | null } {
  const h = (name: string) => d.headers[name] as string | undefined;
  const v3 = h("x-hubspot-signature-v3")
    ? Signature.isValid({
        signatureVersion: "v3",
        signature: h("x-hubspot-signature-v3")!,
        clientSecret: SECRET,
        requestBody: d.body,
        url,
        method: "POST",
        timestamp: Number(h("x-hubspot-request-timestamp")),
      })
    : null;
  const legacy = h("x-hubspot-signature")
    ? Signature.isValid({
        signatureVersion: h("x-hubspot-signature-version") as "v1" | "v2",
        signature: h("x-hubspot-signature")!,
        clientSecret: SECRET,
        requestBody: d.body,
        url,
        method: "POST",
      })
    : null;
  return { v3, legacy };
}

let sim: TestSimulator;
let hs: Client;

beforeAll(async () => {
  sim = await testSimulator();
  hs = sim.client();
});
afterAll(async () => sim.close());

async function withReceiver<T>(r: Receiver, settings: Record<string, unknown>, body: () => Promise<T>): Promise<T> {
  await sim.control.configureWebhooks({ targetUrl: r.url, secret: SECRET, retryDelayMs: 20, ...settings });
  try {
    return await body();
  } finally {
    await sim.control.configureWebhooks({ targetUrl: r.url, secret: SECRET, enabled: false });
    await sim.control.flushWebhooks({ timeoutMs: 15_000 });
    await r.close();
  }
}

describe("simulator webhooks", () => {
  it("sends nothing and listens to nothing until configured", async () => {
    const r = await receiver();
    await sim.control.seed({ size: 300, seed: 3 });
    const c = await hs.crm.contacts.basicApi.create({ properties: { email: "quiet@example.com" }, associations: [] });
    await hs.crm.contacts.basicApi.update(c.id, { properties: { firstname: "Quiet" } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.deliveries).toHaveLength(0);
    const stats = await sim.control.webhookStats();
    expect(stats).toMatchObject({ config: null, sent: 0, pending: 0, eventsQueued: 0 });
    // The store has no webhook listener at all, seeding pays nothing: its one update listener is the
    // search index's (where a record sat before a change, for the out-of-order fault).
    expect((sim.store as unknown as { listeners: Record<string, unknown[]> }).listeners.update).toHaveLength(1);
    await r.close();
    await sim.control.reset();
  });

  it("signs every request with v3 and v1 by default, as HubSpot does, so the SDK's Signature.isValid accepts either", async () => {
    const r = await receiver();
    await withReceiver(r, {}, async () => {
      await hs.crm.companies.basicApi.create({ properties: { name: "Signed twice" }, associations: [] });
      expect((await sim.control.flushWebhooks()).flushed).toBe(true);
      expect(r.deliveries).toHaveLength(1);
      const d = r.deliveries[0]!;
      expect(d.headers["content-type"]).toBe("application/json");
      expect(sdkAccepts(d, r.url)).toEqual({ v3: true, legacy: true });
      expect(d.headers["x-hubspot-signature-version"]).toBe("v1");
      expect(Math.abs(Number(d.headers["x-hubspot-request-timestamp"]) - Date.now())).toBeLessThan(5_000);
      // A changed body verifies with neither.
      expect(sdkAccepts({ ...d, body: d.body.replace("company", "compan_") }, r.url)).toEqual({ v3: false, legacy: false });
      expect(d.events).toEqual([expect.objectContaining({ subscriptionType: "company.creation", attemptNumber: 0, portalId: sim.store.portalId, appId: 1 })]);
    });
  });

  it.each([[["v3"], { v3: true, legacy: null }], [["v2"], { v3: null, legacy: true }], [["v3", "v2"], { v3: true, legacy: true }]] as const)(
    "sends only the signatures listed (%j)",
    async (signatures, expected) => {
      const r = await receiver();
      await withReceiver(r, { signatures }, async () => {
        await hs.crm.companies.basicApi.create({ properties: { name: `Signed ${signatures.join("+")}` }, associations: [] });
        expect((await sim.control.flushWebhooks()).flushed).toBe(true);
        expect(sdkAccepts(r.deliveries[0]!, r.url)).toEqual(expected);
      });
    },
  );

  it("refuses v1 and v2 together (they share a header)", async () => {
    await expect(sim.control.configureWebhooks({ targetUrl: "http://127.0.0.1:9/x", secret: SECRET, signatures: ["v1", "v2"] })).rejects.toThrow(/share the X-HubSpot-Signature header/);
  });

  it("turns creations, property changes, deletions, restores, merges, GDPR deletes and associations into HubSpot events", async () => {
    const r = await receiver();
    const car = await sim.control.createCustomObject({
      name: "cars",
      labels: { singular: "Car", plural: "Cars" },
      primaryDisplayProperty: "model",
      properties: [{ name: "model", type: "string" }],
    });
    const carTypeId = String(car.objectTypeId);
    await withReceiver(r, {}, async () => {
      const changeAt = Date.now();
      const a = await hs.crm.contacts.basicApi.create({ properties: { email: "a@example.com", firstname: "Ann" }, associations: [] });
      const b = await hs.crm.contacts.basicApi.create({ properties: { email: "b@example.com", lastname: "Bee" }, associations: [] });
      const co = await hs.crm.companies.basicApi.create({ properties: { name: "Acme" }, associations: [] });
      // firstname stays "Ann": only lastname and jobtitle changed.
      await hs.crm.contacts.basicApi.update(a.id, { properties: { firstname: "Ann", lastname: "Alpha", jobtitle: "CTO" } });
      await sim.control.associate("contacts", a.id, "companies", co.id);
      await sim.control.unassociate("contacts", a.id, "companies", co.id);
      await hs.crm.contacts.basicApi.archive(b.id);
      await sim.control.restoreRecord("contacts", b.id);
      const merged = await hs.crm.contacts.basicApi.merge({ primaryObjectId: a.id, objectIdToMerge: b.id });
      const gone = await hs.crm.contacts.basicApi.create({ properties: { email: "gdpr@example.com" }, associations: [] });
      await hs.crm.contacts.basicApi.purge({ objectId: gone.id });
      const item = await sim.control.createRecord("line_items", { name: "Widget", quantity: "2" });
      const vehicle = await sim.control.createRecord(carTypeId, { model: "T" });
      await sim.control.updateRecord(carTypeId, vehicle.id, { model: "S" });
      const note = await sim.control.createRecord("notes", { hs_note_body: "Called", hs_timestamp: new Date().toISOString() });
      await sim.control.associate("notes", note.id, "contacts", merged.id);
      expect((await sim.control.flushWebhooks()).flushed).toBe(true);

      const events = r.events();
      const find = (type: string, pred: (e: WebhookEvent) => boolean = () => true) => events.filter((e) => e.subscriptionType === type && pred(e));
      const on = (id: string) => (e: WebhookEvent) => e.objectId === id;
      expect(find("contact.creation").map((e) => e.objectId).sort()).toEqual([a.id, b.id, gone.id].sort());
      expect(find("company.creation", on(co.id))).toHaveLength(1);
      const changes = find("contact.propertyChange", on(a.id)).map((e) => [e.propertyName, e.propertyValue]);
      expect(changes).toEqual(expect.arrayContaining([["lastname", "Alpha"], ["jobtitle", "CTO"]]));
      expect(changes.filter(([name]) => name === "firstname")).toEqual([]);
      expect(changes.filter(([name]) => name === "lastmodifieddate")).toEqual([]);
      const links = find("contact.associationChange", (e) => e.fromObjectId === a.id && e.toObjectId === co.id);
      expect(links.map((e) => [e.associationType, e.associationTypeId, e.associationRemoved])).toEqual([
        ["CONTACT_TO_COMPANY", 279, false],
        ["CONTACT_TO_COMPANY", 279, true],
      ]);
      expect(find("company.associationChange", (e) => e.fromObjectId === co.id && e.toObjectId === a.id).map((e) => e.associationType)).toEqual([
        "COMPANY_TO_CONTACT",
        "COMPANY_TO_CONTACT",
      ]);
      expect(find("contact.deletion", on(b.id))).toHaveLength(1);
      expect(find("contact.restore", on(b.id))).toHaveLength(1);
      expect(find("contact.merge")).toEqual([
        // the event names the record the merge made: a new id for contacts
        expect.objectContaining({ objectId: merged.id, primaryObjectId: a.id, mergedObjectIds: [b.id], newObjectId: merged.id }),
      ]);
      expect([a.id, b.id]).not.toContain(merged.id);
      expect(find("contact.deletion", on(gone.id))).toHaveLength(1);
      expect(find("contact.privacyDeletion", on(gone.id))).toHaveLength(1);
      expect(find("line_item.creation", on(item.id))).toHaveLength(1);
      // HubSpot offers no webhooks for custom objects or engagements: nothing about the car or the
      // note, only the contact's side of the note's association.
      expect(events.filter((e) => e.subscriptionType.startsWith("object."))).toEqual([]);
      expect(find("contact.associationChange", (e) => e.toObjectId === note.id)).toEqual([
        expect.objectContaining({ fromObjectId: merged.id, toObjectTypeId: "0-46", associationRemoved: false }),
      ]);
      // Ids increase, times are the changes' times, the deliveries are signed.
      const ids = events.map((e) => e.eventId!);
      expect(new Set(ids).size).toBe(ids.length);
      for (const e of events) expect(e.occurredAt).toBeGreaterThanOrEqual(changeAt - 1);
      for (const d of r.deliveries) expect(sdkAccepts(d, r.url)).toEqual({ v3: true, legacy: true });
    });
  });

  it("sends object.* events for the other types only when allObjectTypes is set (HubSpot does not)", async () => {
    const r = await receiver();
    const car = await sim.control.createCustomObject({
      name: "bikes",
      labels: { singular: "Bike", plural: "Bikes" },
      primaryDisplayProperty: "model",
      properties: [{ name: "model", type: "string" }],
    });
    const bikeTypeId = String(car.objectTypeId);
    await withReceiver(r, { allObjectTypes: true }, async () => {
      const bike = await sim.control.createRecord(bikeTypeId, { model: "T" });
      await sim.control.updateRecord(bikeTypeId, bike.id, { model: "S" });
      const note = await sim.control.createRecord("notes", { hs_note_body: "Called", hs_timestamp: new Date().toISOString() });
      expect((await sim.control.flushWebhooks()).flushed).toBe(true);
      const events = r.events();
      expect(events.filter((e) => e.objectId === bike.id).map((e) => [e.subscriptionType, e.objectTypeId, e.propertyName])).toEqual([
        ["object.creation", bikeTypeId, undefined],
        ["object.propertyChange", bikeTypeId, "model"],
      ]);
      expect(events.filter((e) => e.objectId === note.id)).toEqual([expect.objectContaining({ subscriptionType: "object.creation", objectTypeId: "0-46" })]);
    });
  });

  it("keeps batches to 100 events and at most 10 requests in flight", async () => {
    const r = await receiver(() => 200, 150);
    await withReceiver(r, { batchWindowMs: 50 }, async () => {
      const created: string[] = [];
      for (let round = 0; round < 15; round++) {
        const inputs = Array.from({ length: 100 }, (_, i) => ({ properties: { name: `Bulk ${round}-${i}` }, associations: [] }));
        const res = await hs.crm.companies.batchApi.create({ inputs });
        created.push(...res.results.map((c) => c.id));
      }
      const flush = await sim.control.flushWebhooks();
      expect(flush).toMatchObject({ flushed: true, pending: 0 });
      const creations = r.events().filter((e) => e.subscriptionType === "company.creation").map((e) => e.objectId);
      expect(new Set(creations)).toEqual(new Set(created));
      expect(Math.max(...r.deliveries.map((d) => d.events.length))).toBeLessThanOrEqual(100);
      expect(r.deliveries.length).toBeGreaterThanOrEqual(15);
      expect(r.maxOpen).toBeGreaterThan(1);
      expect(r.maxOpen).toBeLessThanOrEqual(10);
    });
  });

  it("sends a batch again with attemptNumber 1 after a 500", async () => {
    const r = await receiver((n) => (n === 0 ? 500 : 200));
    const before = await sim.control.webhookStats();
    await withReceiver(r, {}, async () => {
      const c = await sim.control.createRecord("deals", { dealname: "Retry me", pipeline: "default", dealstage: "appointmentscheduled" });
      expect((await sim.control.flushWebhooks()).flushed).toBe(true);
      expect(r.deliveries).toHaveLength(2);
      const [first, second] = r.deliveries.map((d) => d.events);
      expect(first![0]).toMatchObject({ subscriptionType: "deal.creation", objectId: c.id, attemptNumber: 0 });
      expect(second).toEqual(first!.map((e) => ({ ...e, attemptNumber: 1 })));
      expect(sdkAccepts(r.deliveries[1]!, r.url)).toEqual({ v3: true, legacy: true });
      const after = await sim.control.webhookStats();
      expect(after.sent - before.sent).toBe(2);
      expect(after.failed - before.failed).toBe(1);
      expect(after.retried - before.retried).toBe(1);
      expect(after.delivered - before.delivered).toBe(1);
      expect(after.lastError).toBe("HTTP 500");
    });
  });

  it("waits as long as a 429's Retry-After asks before sending again", async () => {
    const r = await receiver((n) => (n === 0 ? { status: 429, headers: { "retry-after": "1" } } : 200));
    await withReceiver(r, {}, async () => {
      await sim.control.createRecord("companies", { name: "Throttled" });
      expect((await sim.control.flushWebhooks()).flushed).toBe(true);
      expect(r.deliveries.map((d) => d.events[0]!.attemptNumber)).toEqual([0, 1]);
      expect(r.deliveries[1]!.at - r.deliveries[0]!.at).toBeGreaterThanOrEqual(950);
    });
  });

  it("retries a receiver that does not answer within 5 seconds", async () => {
    const r = await receiver((n) => (n === 0 ? "hang" : 200));
    await withReceiver(r, {}, async () => {
      const t = await hs.crm.tickets.basicApi.create({ properties: { subject: "Slow", hs_pipeline: "0", hs_pipeline_stage: "1" }, associations: [] });
      expect((await sim.control.flushWebhooks({ timeoutMs: 15_000 })).flushed).toBe(true);
      expect(r.deliveries).toHaveLength(2);
      expect(r.deliveries[0]!.events[0]).toMatchObject({ subscriptionType: "ticket.creation", objectId: t.id, attemptNumber: 0 });
      expect(r.deliveries[1]!.events[0]).toMatchObject({ objectId: t.id, attemptNumber: 1 });
      const gap = r.deliveries[1]!.at - r.deliveries[0]!.at;
      expect(gap).toBeGreaterThanOrEqual(4_900);
      expect((await sim.control.webhookStats()).lastError).toMatch(/no answer within 5000 ms/);
    });
  }, 20_000);

  it("drops a batch after maxAttempts, and counts it", async () => {
    const r = await receiver(() => 503);
    const before = await sim.control.webhookStats();
    await withReceiver(r, { maxAttempts: 3 }, async () => {
      await sim.control.createRecord("products", { name: "Doomed" });
      expect((await sim.control.flushWebhooks()).flushed).toBe(true);
      expect(r.deliveries.map((d) => d.events[0]!.attemptNumber)).toEqual([0, 1, 2]);
      const after = await sim.control.webhookStats();
      expect(after.dropped - before.dropped).toBe(1);
      expect(after.eventsDropped - before.eventsDropped).toBe(1);
      expect(after.failed - before.failed).toBe(3);
      expect(after.pending).toBe(0);
    });
    // Nobody listening at all: connection failures are retried and dropped the same way.
    const closed = await receiver();
    await closed.close();
    await withReceiver(closed, { maxAttempts: 2 }, async () => {
      await sim.control.createRecord("products", { name: "Nowhere" });
      expect((await sim.control.flushWebhooks()).flushed).toBe(true);
      const after = await sim.control.webhookStats();
      expect(after.dropped - before.dropped).toBe(2);
      expect(after.lastError).toMatch(/ECONNREFUSED/);
    });
  });

  it("sends only the subscribed types", async () => {
    const r = await receiver();
    await withReceiver(r, { subscriptions: ["contact.creation", "deal.*"] }, async () => {
      const c = await sim.control.createRecord("contacts", { email: "sub@example.com" });
      await sim.control.updateRecord("contacts", c.id, { firstname: "Sub" });
      await sim.control.createRecord("companies", { name: "Not subscribed" });
      const d = await sim.control.createRecord("deals", { dealname: "D", pipeline: "default", dealstage: "appointmentscheduled" });
      await sim.control.updateRecord("deals", d.id, { amount: "10" });
      await sim.control.flushWebhooks();
      expect(r.events().map((e) => e.subscriptionType)).toEqual(["contact.creation", "deal.creation", "deal.propertyChange"]);
    });
  });

  it("delivers every change, and refuses bad settings", async () => {
    const r = await receiver();
    await withReceiver(r, {}, async () => {
      const latencies: number[] = [];
      for (let i = 0; i < 5; i++) {
        const n = r.deliveries.length;
        const started = Date.now();
        await sim.control.createRecord("contacts", { email: `lat${i}@example.com` });
        await waitFor("the change's delivery", async () => r.deliveries[n], { timeoutMs: 20_000, intervalMs: 2 });
        latencies.push(r.deliveries[n]!.at - started);
      }
      latencies.sort((x, y) => x - y);
      console.log(`simulator webhooks: change → receipt ${latencies.join(", ")} ms (batch window 100 ms)`);
      expect(r.events().map((e) => e.subscriptionType)).toEqual(Array(5).fill("contact.creation"));
    });
    await expect(sim.control.configureWebhooks({ targetUrl: "not a url", secret: SECRET })).rejects.toThrow(/400/);
    await expect(sim.control.configureWebhooks({ targetUrl: r.url, secret: "" })).rejects.toThrow(/400/);
    const stats = await sim.control.webhookStats();
    expect(stats.config).toMatchObject({ secret: "[redacted]", enabled: false });
  });

  it("hubsync simulator --webhook-url/--webhook-secret/--webhook-signature sends signed batches", async () => {
    const r = await receiver();
    const cli = new URL("../src/cli/hubsync.ts", import.meta.url).pathname;
    const args = [cli, "simulator", "--port", "0", "--webhook-url", r.url, "--webhook-secret", SECRET, "--webhook-signature", "v2"];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    try {
      let out = "";
      child.stdout.on("data", (c: Buffer) => (out += c.toString()));
      while (!/listening on (\S+)/.test(out)) await new Promise((resolve) => setTimeout(resolve, 20));
      const control = simulatorControl(/listening on (\S+)/.exec(out)![1]!);
      const c = await control.createRecord("contacts", { email: "cli@example.com" });
      expect((await control.flushWebhooks()).flushed).toBe(true);
      expect(r.deliveries).toHaveLength(1);
      expect(r.deliveries[0]!.headers["x-hubspot-signature-version"]).toBe("v2");
      expect(sdkAccepts(r.deliveries[0]!, r.url)).toEqual({ v3: null, legacy: true });
      expect(r.deliveries[0]!.events[0]).toMatchObject({ subscriptionType: "contact.creation", objectId: c.id });
    } finally {
      child.kill("SIGINT");
      expect(await new Promise((resolve) => child.on("exit", resolve))).toBe(0);
      await r.close();
    }
  });

  it("starts from startSimulator({ webhooks }) and closes without leaving timers or sockets behind", async () => {
    // In a process of its own: with a retry waiting a minute, it must still exit as soon as close() returns.
    const script = `
      import http from "node:http";
      import { startSimulator } from ${JSON.stringify(new URL("../src/simulator/index.ts", import.meta.url).href)};
      const server = http.createServer((req, res) => { req.resume(); req.on("end", () => res.writeHead(500).end()); });
      await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
      const sim = await startSimulator({ webhooks: { targetUrl: "http://127.0.0.1:" + server.address().port + "/hook", secret: "s", retryDelayMs: 60000 } });
      await sim.control.createRecord("contacts", { email: "own@example.com" });
      while ((await sim.control.webhookStats()).failed === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      await sim.close();
      server.closeAllConnections();
      server.close();
      process.stdout.write(JSON.stringify(process.getActiveResourcesInfo()) + "\\n");
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    // Well before the minute the pending retry would keep a leaky process alive.
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    clearTimeout(killer);
    expect(code).toBe(0);
    expect(JSON.parse(out.trim())).not.toContain("Timeout");
  }, 45_000);
});
