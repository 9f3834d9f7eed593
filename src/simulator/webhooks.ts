import http from "node:http";
import https from "node:https";
import { z } from "zod";
import { log } from "../core/log.ts";
import { MAX_EVENTS_PER_BATCH } from "../core/webhooks/events.ts";
import { sign, SIGNATURE_VERSIONS, type SignatureVersion } from "../core/webhooks/signature.ts";
import { validationError } from "./http-errors.ts";
import type { Handler } from "./router.ts";
import type { Store } from "./store.ts";
import { followChanges, type ChangeEvent } from "./webhook-events.ts";

/**
 * The simulator's webhook sender: what HubSpot's app webhooks do (the events
 * are webhook-events.ts). Store changes become events, events are batched (a window of
 * `batchWindowMs` or 100 events), each batch is POSTed signed to `targetUrl` with at most
 * `maxConcurrentRequests` in flight, and a batch that gets no 2xx within 5 s is sent again with
 * attemptNumber + 1 after `retryDelayMs` × attempt, until `maxAttempts`, then dropped.
 * Nothing listens to the store until webhooks are configured, so seeding and benchmarks pay nothing.
 */

export const WebhookConfigSchema = z.object({
  targetUrl: z.url({ protocol: /^https?$/ }),
  secret: z.string().min(1),
  signatureVersion: z.enum(SIGNATURE_VERSIONS).default("v3"),
  batchWindowMs: z.number().int().min(0).max(60_000).default(100),
  maxBatchSize: z.number().int().min(1).max(MAX_EVENTS_PER_BATCH).default(MAX_EVENTS_PER_BATCH),
  maxAttempts: z.number().int().min(1).max(100).default(10),
  retryDelayMs: z.number().int().min(0).max(3_600_000).default(1_000),
  /** HubSpot gives up on an answer after 5 s. */
  timeoutMs: z.number().int().min(1).max(60_000).default(5_000),
  maxConcurrentRequests: z.number().int().min(1).max(100).default(10),
  /** Subscription types to send (`contact.creation`, `object.propertyChange`, `deal.*`); absent = all. */
  subscriptions: z.array(z.string().regex(/^[a-z_]+\.([A-Za-z]+|\*)$/)).optional(),
  enabled: z.boolean().default(true),
  appId: z.number().int().nonnegative().default(1),
});
export type WebhookConfigInput = z.input<typeof WebhookConfigSchema>;
export type WebhookConfig = z.output<typeof WebhookConfigSchema>;

export interface WebhookCounters {
  /** HTTP requests made (first attempts and retries). */
  sent: number;
  /** Batches acknowledged with a 2xx. */
  delivered: number;
  /** Requests that got a non-2xx, no answer in time, or no connection. */
  failed: number;
  /** Requests that were retries (attemptNumber > 0). */
  retried: number;
  /** Batches given up after maxAttempts. */
  dropped: number;
  /** Events not yet delivered or dropped (in the batch window, queued, in flight or waiting to retry). */
  pending: number;
  eventsQueued: number;
  eventsDelivered: number;
  eventsDropped: number;
  inFlight: number;
  lastError: string | null;
}

export interface WebhookStats extends WebhookCounters {
  /** The configuration in force (secret redacted), or null before any. */
  config: (Omit<WebhookConfig, "secret"> & { secret: string }) | null;
}

interface Batch {
  events: Array<ChangeEvent & { eventId: number; subscriptionId: number; portalId: number; appId: number }>;
  /** Attempts made so far: the next request carries attemptNumber = attempts. */
  attempts: number;
}

/** `retryAfterMs`: the receiver asked for a pause (429/503 with Retry-After), which HubSpot honours. */
type Outcome = { ok: true } | { ok: false; error: string; retryAfterMs?: number };

/** Longest pause a Retry-After may impose (HubSpot's retries spread over hours; ours stay testable). */
const MAX_RETRY_AFTER_MS = 10 * 60 * 1000;

const zeroCounters = (): WebhookCounters => ({
  sent: 0, delivered: 0, failed: 0, retried: 0, dropped: 0, pending: 0,
  eventsQueued: 0, eventsDelivered: 0, eventsDropped: 0, inFlight: 0, lastError: null,
});

export class WebhookSender {
  #store: Store;
  #config: WebhookConfig | null = null;
  #unfollow: (() => void) | null = null;
  #buffer: Batch["events"] = [];
  #windowTimer: NodeJS.Timeout | null = null;
  #ready: Batch[] = [];
  #retryTimers = new Set<NodeJS.Timeout>();
  #requests = new Set<http.ClientRequest>();
  #agents: { http: http.Agent; https: https.Agent } | null = null;
  #counters = zeroCounters();
  #nextEventId = 1;
  #subscriptionIds = new Map<string, number>();
  /** Flush waiters: called with true once nothing is pending, with false when the sender closes. */
  #idle: Array<(flushed: boolean) => void> = [];
  #closed = false;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Replaces the configuration; events start (or stop) being captured from now on. */
  configure(input: unknown): WebhookStats {
    const parsed = WebhookConfigSchema.safeParse(input ?? {});
    if (!parsed.success) {
      throw validationError(`Invalid webhook settings: ${parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}`);
    }
    if (this.#closed) throw new Error("webhook sender is closed");
    const config = parsed.data;
    this.#config = config;
    if (config.enabled && !this.#unfollow) this.#unfollow = followChanges(this.#store, (e) => this.#capture(e));
    if (!config.enabled && this.#unfollow) {
      this.#unfollow();
      this.#unfollow = null;
    }
    return this.stats();
  }

  stats(): WebhookStats {
    const config = this.#config ? { ...this.#config, secret: "[redacted]" } : null;
    return { config, ...this.#counters, inFlight: this.#requests.size };
  }

  /** Sends what is in the batch window now and resolves once nothing is pending (true) or at the timeout (false). */
  async flush(timeoutMs: number): Promise<boolean> {
    this.#cutBatch();
    if (this.#counters.pending === 0) return true;
    return new Promise<boolean>((resolve) => {
      const done = (flushed: boolean): void => {
        clearTimeout(timer);
        const at = this.#idle.indexOf(done);
        if (at >= 0) this.#idle.splice(at, 1);
        resolve(flushed);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#idle.push(done);
    });
  }

  /** Stops listening, abandons what is pending and leaves no timer or socket behind. */
  close(): void {
    this.#closed = true;
    this.#unfollow?.();
    this.#unfollow = null;
    if (this.#windowTimer) clearTimeout(this.#windowTimer);
    this.#windowTimer = null;
    for (const t of this.#retryTimers) clearTimeout(t);
    this.#retryTimers.clear();
    for (const req of this.#requests) req.destroy();
    this.#requests.clear();
    this.#buffer = [];
    this.#ready = [];
    this.#resetAgents();
    for (const wake of this.#idle.splice(0)) wake(false);
  }

  #capture(event: ChangeEvent): void {
    const config = this.#config;
    if (!config || !wanted(config, event.subscriptionType)) return;
    const key = `${event.subscriptionType}:${event.objectTypeId ?? ""}`;
    let subscriptionId = this.#subscriptionIds.get(key);
    if (subscriptionId === undefined) this.#subscriptionIds.set(key, (subscriptionId = this.#subscriptionIds.size + 1));
    this.#buffer.push({ eventId: this.#nextEventId++, subscriptionId, portalId: this.#store.portalId, appId: config.appId, ...event });
    this.#counters.pending++;
    this.#counters.eventsQueued++;
    if (this.#buffer.length >= config.maxBatchSize) this.#cutBatch();
    else if (!this.#windowTimer) this.#windowTimer = setTimeout(() => this.#cutBatch(), config.batchWindowMs);
  }

  #cutBatch(): void {
    if (this.#windowTimer) clearTimeout(this.#windowTimer);
    this.#windowTimer = null;
    const size = this.#config?.maxBatchSize ?? MAX_EVENTS_PER_BATCH;
    while (this.#buffer.length > 0) this.#ready.push({ events: this.#buffer.splice(0, size), attempts: 0 });
    this.#pump();
  }

  #pump(): void {
    const config = this.#config;
    if (!config || this.#closed) return;
    while (this.#ready.length > 0 && this.#requests.size < config.maxConcurrentRequests) {
      const batch = this.#ready.shift()!;
      void this.#deliver(config, batch);
    }
  }

  async #deliver(config: WebhookConfig, batch: Batch): Promise<void> {
    const attemptNumber = batch.attempts++;
    this.#counters.sent++;
    if (attemptNumber > 0) this.#counters.retried++;
    const body = JSON.stringify(batch.events.map((e) => ({ ...e, attemptNumber })));
    const outcome = await this.#post(config, body);
    if (this.#closed) return;
    if (outcome.ok) {
      this.#settle(batch, "delivered");
    } else {
      this.#counters.failed++;
      this.#counters.lastError = outcome.error;
      if (batch.attempts >= config.maxAttempts) {
        log.warn({ targetUrl: config.targetUrl, events: batch.events.length, attempts: batch.attempts, error: outcome.error }, "simulator webhooks: batch dropped");
        this.#settle(batch, "dropped");
      } else {
        log.debug({ targetUrl: config.targetUrl, attemptNumber, error: outcome.error }, "simulator webhooks: delivery failed, will retry");
        const timer = setTimeout(() => {
          this.#retryTimers.delete(timer);
          this.#ready.push(batch);
          this.#pump();
        }, Math.max(config.retryDelayMs * batch.attempts, outcome.retryAfterMs ?? 0));
        this.#retryTimers.add(timer);
      }
    }
    this.#pump();
  }

  #settle(batch: Batch, how: "delivered" | "dropped"): void {
    const n = batch.events.length;
    this.#counters.pending -= n;
    if (how === "delivered") {
      this.#counters.delivered++;
      this.#counters.eventsDelivered += n;
    } else {
      this.#counters.dropped++;
      this.#counters.eventsDropped += n;
    }
    if (this.#counters.pending === 0) for (const wake of this.#idle.splice(0)) wake(true);
  }

  /** One signed POST; resolves with the outcome, never rejects. */
  #post(config: WebhookConfig, body: string): Promise<Outcome> {
    const url = new URL(config.targetUrl);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
      "user-agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) - hubsync simulator",
      ...signatureHeaders(config.signatureVersion, config.secret, config.targetUrl, body),
    };
    const agents = this.#agentsFor();
    const transport = url.protocol === "https:" ? https : http;
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      const finish = (outcome: Outcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#requests.delete(req);
        resolve(outcome);
      };
      const req = transport.request(url, { method: "POST", headers, agent: url.protocol === "https:" ? agents.https : agents.http }, (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return finish({ ok: true });
        finish({ ok: false, error: `HTTP ${status}`, retryAfterMs: retryAfterMs(res.headers["retry-after"]) });
      });
      const timer = setTimeout(() => {
        finish({ ok: false, error: `no answer within ${config.timeoutMs} ms` });
        req.destroy();
      }, config.timeoutMs);
      req.on("error", (err) => finish({ ok: false, error: err.message }));
      req.on("close", () => finish({ ok: false, error: "connection closed without an answer" }));
      this.#requests.add(req);
      req.end(body);
    });
  }

  /** Keep-alive sockets of our own, so close() can end them; #pump caps the concurrency. */
  #agentsFor(): { http: http.Agent; https: https.Agent } {
    if (!this.#agents) {
      const options = { keepAlive: true, maxSockets: 100 };
      this.#agents = { http: new http.Agent(options), https: new https.Agent(options) };
    }
    return this.#agents;
  }

  #resetAgents(): void {
    this.#agents?.http.destroy();
    this.#agents?.https.destroy();
    this.#agents = null;
  }
}

/** Retry-After in seconds or as an HTTP date, in ms from now (capped), or undefined. */
function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : undefined;
}

function wanted(config: WebhookConfig, subscriptionType: string): boolean {
  if (!config.subscriptions) return true;
  const object = subscriptionType.slice(0, subscriptionType.indexOf("."));
  return config.subscriptions.some((s) => s === subscriptionType || s === `${object}.*`);
}

/** The headers HubSpot signs a request with; the signed URI is exactly the configured target URL. */
export function signatureHeaders(version: SignatureVersion, secret: string, targetUrl: string, body: string): Record<string, string> {
  if (version === "v3") {
    const timestamp = Date.now();
    return {
      "X-HubSpot-Signature-v3": sign("v3", secret, { method: "POST", url: targetUrl, body, timestamp }),
      "X-HubSpot-Request-Timestamp": String(timestamp),
    };
  }
  return { "X-HubSpot-Signature": sign(version, secret, { method: "POST", url: targetUrl, body }), "X-HubSpot-Signature-Version": version };
}

const FlushBody = z.object({ timeoutMs: z.number().int().min(0).max(600_000).default(30_000) }).default({ timeoutMs: 30_000 });

/** The /_sim/webhooks control routes (no bearer, not rate limited). */
export function webhookRoutes(sender: WebhookSender): Array<{ method: "GET" | "POST"; path: string; handler: Handler }> {
  return [
    { method: "GET", path: "/_sim/webhooks", handler: () => ({ status: 200, body: sender.stats() }) },
    { method: "POST", path: "/_sim/webhooks", handler: (req) => ({ status: 200, body: sender.configure(req.body) }) },
    {
      method: "POST",
      path: "/_sim/webhooks/flush",
      handler: async (req) => {
        const parsed = FlushBody.safeParse(req.body ?? {});
        if (!parsed.success) throw validationError(`Invalid flush request: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
        const flushed = await sender.flush(parsed.data.timeoutMs);
        return { status: 200, body: { flushed, ...sender.stats() } };
      },
    },
  ];
}
