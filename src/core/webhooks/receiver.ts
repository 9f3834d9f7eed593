import http from "node:http";
import type { AddressInfo } from "node:net";
import type pg from "pg";
import { log as rootLog, type Logger } from "../log.ts";
import type { WebhookConfig } from "./config.ts";
import { WebhookEvent, WebhookRequestBody } from "./events.ts";
import { insertBatch } from "./inbox.ts";
import { createRateLimiter } from "./rate-limit.ts";
import { verifySignature } from "./signature.ts";

/**
 * The HTTP end HubSpot posts webhook batches to (node:http, no framework). Per request, in this
 * order: rate limit (429 + Retry-After), size (413 past 1 MB, the rest is not read), signature
 * (401, nothing written), JSON and HubSpot's event shape (400), then the batch goes into
 * hubsync.webhook_events and the apply job is queued in one statement; 204 only once that committed.
 * HubSpot gives up on an answer after 5 s and retries: a database error answers 503 so it does.
 */

export const WEBHOOK_PATH = "/hubspot/webhooks";
export const MAX_BODY_BYTES = 1024 * 1024;

export interface ReceiverOptions {
  pool: pg.Pool;
  config: WebhookConfig;
  log?: Logger;
  /** Clock for the signature's 5-minute window (tests). */
  now?: () => number;
}

export interface RunningReceiver {
  /** http://host:port of the listening socket. */
  url: string;
  port: number;
  /** Stops accepting, lets requests in progress finish, then closes. */
  close(): Promise<void>;
}

type Answer = { status: number; body?: unknown; headers?: Record<string, string>; close?: boolean };

class BodyTooLarge extends Error {}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        req.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
    // a client gone mid-body may only close: nothing must wait for an 'end' that never comes
    req.once("close", () => reject(new Error("the client closed the connection before the body was complete")));
  });
}

/** The URL HubSpot signed: the configured public one, else this request's own (a proxy's X-Forwarded-Proto is honoured). */
function signedUrl(req: http.IncomingMessage, config: WebhookConfig): string {
  if (config.publicUrl) return config.publicUrl;
  const forwarded = req.headers["x-forwarded-proto"];
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim() || ("encrypted" in req.socket ? "https" : "http");
  return `${proto}://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
}

function send(res: http.ServerResponse, answer: Answer): void {
  const headers: Record<string, string> = { ...answer.headers };
  if (answer.close) headers.connection = "close";
  if (answer.body === undefined) {
    res.writeHead(answer.status, headers).end();
    return;
  }
  res.writeHead(answer.status, { "content-type": "application/json", ...headers }).end(JSON.stringify(answer.body));
}

function describeIssue(issue: { path: PropertyKey[]; message: string } | undefined): string {
  return issue ? `${issue.path.map(String).join(".") || "body"}: ${issue.message}` : "body: not an event batch";
}

const error = (status: number, message: string, extra: Partial<Answer> = {}): Answer => ({ status, body: { status: "error", message }, ...extra });

export async function startReceiver(options: ReceiverOptions): Promise<RunningReceiver> {
  const { pool, config } = options;
  const log = (options.log ?? rootLog).child({ component: "webhooks" });
  const limiter = createRateLimiter(config.rate);
  const inFlight = new Set<Promise<void>>();

  function notABatch(remote: string, reason: string): Answer {
    log.warn({ remote, reason }, "webhook request refused: not a HubSpot event batch (400)");
    return error(400, `not a HubSpot webhook batch: ${reason}`);
  }

  async function handleWebhook(req: http.IncomingMessage): Promise<Answer> {
    const remote = req.socket.remoteAddress ?? "unknown";
    const wait = limiter.take(remote);
    if (wait !== null) {
      log.debug({ remote }, "webhook request over the rate limit (429)");
      return error(429, "too many requests", { headers: { "retry-after": String(wait) }, close: true });
    }
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
      log.warn({ remote, bytes: declared }, "webhook request refused: body over 1 MB (413)");
      return error(413, "body over 1 MB", { close: true });
    }
    let raw: Buffer;
    try {
      raw = await readBody(req, MAX_BODY_BYTES);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      log.warn({ remote }, "webhook request refused: body over 1 MB (413)");
      return error(413, "body over 1 MB", { close: true });
    }
    const body = raw.toString("utf8");
    const verdict = verifySignature(req.headers, { method: req.method ?? "POST", url: signedUrl(req, config), body }, {
      secret: config.secret,
      accept: config.accept,
      now: options.now?.(),
    });
    if (!verdict.ok) {
      log.warn({ remote, reason: verdict.reason }, "webhook request refused: signature (401)");
      return error(401, `signature rejected: ${verdict.reason}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return error(400, "body is not JSON");
    }
    const items = WebhookRequestBody.safeParse(json);
    if (!items.success) return notABatch(remote, describeIssue(items.error.issues[0]));
    const accepted: unknown[] = [];
    const refused: Array<{ event: unknown; reason: string }> = [];
    for (const item of items.data) {
      const event = WebhookEvent.safeParse(item);
      if (event.success) accepted.push(item);
      else refused.push({ event: item, reason: `not a HubSpot event: ${describeIssue(event.error.issues[0])}` });
    }
    if (accepted.length === 0) return notABatch(remote, refused[0]?.reason ?? "no events");
    if (refused.length > 0) log.warn({ remote, refused: refused.length, reason: refused[0]?.reason }, "webhook events kept as ignored: not HubSpot's event shape");
    const started = Date.now();
    try {
      const n = await insertBatch(pool, accepted, refused);
      log.debug({ events: n, version: verdict.version, ms: Date.now() - started }, "webhook batch queued");
      return { status: 204 };
    } catch (err) {
      log.error({ err: err instanceof Error ? err.message : String(err) }, "webhook batch not stored (503); HubSpot retries it");
      return error(503, "could not store the batch; retry later", { headers: { "retry-after": "5" } });
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    let answer: Answer;
    try {
      if (path === "/healthz" && (req.method === "GET" || req.method === "HEAD")) {
        await pool.query("select 1");
        answer = { status: 200, body: { status: "ok" } };
      } else if (path === WEBHOOK_PATH) {
        answer = req.method === "POST" ? await handleWebhook(req) : error(405, "POST only", { headers: { allow: "POST" } });
      } else {
        answer = error(404, "not found");
      }
    } catch (err) {
      log.error({ err: err instanceof Error ? err.message : String(err), path }, "webhook receiver error");
      answer = error(path === "/healthz" ? 503 : 500, "internal error");
    }
    send(res, answer);
    // An unread body (413, 429) is not drained: the connection closes once the answer is out.
    if (answer.close && !req.complete) res.once("finish", () => req.socket.destroySoon());
  }

  const server = http.createServer((req, res) => {
    const p = handle(req, res).finally(() => inFlight.delete(p));
    inFlight.add(p);
  });
  // A client trickling its body must not hold a socket for long: HubSpot itself waits 5 s at most.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${address.port}`;
  log.info({ url: `${url}${WEBHOOK_PATH}`, signatures: config.accept, publicUrl: config.publicUrl }, "webhook receiver listening");
  return {
    url,
    port: address.port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await Promise.allSettled([...inFlight]);
      server.closeAllConnections();
      await closed;
    },
  };
}
