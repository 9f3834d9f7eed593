import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { log } from "../core/log.ts";
import { effectiveLimits, type SimulatorConfig } from "./config.ts";
import { adaptDatedResponse, datedPath, datedRouteMissing } from "./dated-routes.ts";
import { malformedBody, pickFault, pickMalformed, serverErrorBody } from "./faults.ts";
import { HubSpotError, newCorrelationId } from "./http-errors.ts";
import { Prng } from "./prng.ts";
import { RateLimiter, rateLimitBody } from "./rate-limiter.ts";
import { RequestLog } from "./request-log.ts";
import type { RouteMatch, Router, SimContext, SimRequest, SimResponse } from "./router.ts";
import type { Store } from "./store.ts";

/**
 * The HTTP face of the simulator: one node:http server answering HubSpot paths the way HubSpot
 * does (bearer auth, rate limits with their headers and 429 bodies, latency, injected faults,
 * 414 for long URLs, correlation ids) and the /_sim control paths without any of that.
 */

export interface ServerParts {
  store: Store;
  router: Router;
  getConfig(): SimulatorConfig;
  limiter: RateLimiter;
  requestLog: RequestLog;
}

export interface HttpServer {
  url: string;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Math.random, or a seeded generator while `faults.seed` is set (re-seeded when it changes). */
function faultDice(): (config: SimulatorConfig) => () => number {
  let current: { seed: number; prng: Prng } | null = null;
  return (config) => {
    const seed = config.faults.seed;
    if (seed === undefined) return Math.random;
    if (current?.seed !== seed) current = { seed, prng: new Prng(seed) };
    const prng = current.prng;
    return () => prng.next();
  };
}

export async function startHttpServer(parts: ServerParts, port: number, host = "127.0.0.1"): Promise<HttpServer> {
  const dice = faultDice();
  const sockets = new Set<Socket>();
  const held = new Set<NodeJS.Timeout>();
  // Long URLs must reach us so we can answer HubSpot's 414 (node's default cap is 16 KB).
  const server = http.createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
    handle(parts, req, res, held, dice).catch((err: unknown) => {
      log.error({ err }, "simulator: request failed");
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json;charset=utf-8" });
        res.end(JSON.stringify({ status: "error", message: "internal simulator error", category: "INTERNAL_ERROR", correlationId: newCorrelationId() }));
      }
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of held) clearTimeout(t);
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: http.ServerResponse, correlationId: string, out: SimResponse): void {
  const headers: Record<string, string> = { "X-HubSpot-Correlation-Id": correlationId, ...out.headers };
  if (out.status === 204 || out.body === undefined) {
    res.writeHead(out.status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(out.body);
  res.writeHead(out.status, { ...headers, "content-type": "application/json;charset=utf-8", "content-length": String(Buffer.byteLength(text)) });
  res.end(text);
}

async function handle(
  parts: ServerParts,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  held: Set<NodeJS.Timeout>,
  dice: (config: SimulatorConfig) => () => number,
): Promise<void> {
  const started = Date.now();
  const config = parts.getConfig();
  const correlationId = newCorrelationId();
  const rawUrl = req.url ?? "/";
  const url = new URL(rawUrl, "http://simulator");
  const method = (req.method ?? "GET").toUpperCase();
  const control = url.pathname.startsWith("/_sim/") || url.pathname === "/_sim";
  const bodyText = await readBody(req);

  let endpoint = `${method} ${url.pathname}`;
  let policy: string | undefined;
  const finish = (out: SimResponse): void => {
    send(res, correlationId, out);
    if (!control) {
      parts.requestLog.record({ method, path: stripCredentials(url), endpoint, status: out.status, ms: Date.now() - started, at: started }, policy);
    }
  };

  if (!control && rawUrl.length > config.maxUrlLength) {
    finish({ status: 414, body: { status: "error", message: "URI Too Long", correlationId, category: "URI_TOO_LONG" } });
    return;
  }

  // A dated path is answered by its v3/v4 twin's handler, then reshaped where the version differs.
  const dated = control ? undefined : datedPath(url.pathname);
  const paths = dated ? [url.pathname, dated.legacy] : [url.pathname];
  const match = dated && datedRouteMissing(method, dated) ? undefined : parts.router.match(method, dated?.legacy ?? url.pathname);
  if (match === undefined || match === "method") {
    const status = match === "method" ? 405 : 404;
    finish({ status, body: { status: "error", message: status === 404 ? `No route for ${method} ${url.pathname}` : `Method ${method} not allowed`, correlationId, category: status === 404 ? "OBJECT_NOT_FOUND" : "METHOD_NOT_ALLOWED" } });
    return;
  }
  endpoint = `${method} ${patternOf(match, url.pathname)}`;

  if (match.options.auth) {
    const auth = req.headers.authorization;
    const token = auth?.startsWith("Bearer ") ? auth.slice(7).trim() : undefined;
    // A token HubSpot cannot even parse (quotes or spaces copied with it) is answered 530, not 401.
    if (token && token !== config.token && !/^[A-Za-z0-9._~+/=-]+$/.test(token)) {
      finish({ status: 530, body: { status: "error", message: "The access token is malformed.", correlationId, category: "INVALID_AUTHENTICATION" } });
      return;
    }
    if (token !== config.token) {
      finish({
        status: 401,
        body: {
          status: "error",
          message: token
            ? "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
            : "Authentication credentials not found. This API supports both API Key and OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
          correlationId,
          category: "INVALID_AUTHENTICATION",
        },
      });
      return;
    }
  }

  if (match.options.auth && config.migrationRetryAfterSeconds !== null) {
    finish({
      status: 477,
      headers: { "Retry-After": String(config.migrationRetryAfterSeconds) },
      body: { status: "error", message: "Migration in progress", correlationId, category: "MIGRATION_IN_PROGRESS" },
    });
    return;
  }

  const missing = match.options.auth ? config.missingScopes.find((m) => (!m.method || m.method === method) && paths.some((p) => p.startsWith(m.pathPrefix))) : undefined;
  if (missing) {
    finish({
      status: 403,
      body: {
        status: "error",
        message: "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
        correlationId,
        errors: [{ message: "One or more of the following scopes are required.", context: { requiredGranularScopes: [missing.scope] } }],
        links: { scopes: "https://developers.hubspot.com/scopes" },
        category: "MISSING_SCOPES",
      },
    });
    return;
  }

  const fault = control ? null : pickFault(config.faults, dice(config), paths);
  if (fault) {
    if (fault?.kind === "drop") {
      parts.requestLog.record({ method, path: stripCredentials(url), endpoint, status: 0, ms: Date.now() - started, at: started });
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "timeout") {
      // Hold the request unanswered, then give up on the connection as a stuck upstream would.
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          held.delete(t);
          resolve();
        }, fault.ms);
        held.add(t);
        req.socket.once("close", () => {
          clearTimeout(t);
          held.delete(t);
          resolve();
        });
      });
      parts.requestLog.record({ method, path: stripCredentials(url), endpoint, status: 0, ms: Date.now() - started, at: started });
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "server-error") {
      finish({ status: fault.status, body: serverErrorBody(fault.status, correlationId) });
      return;
    }
  }

  const decision = parts.limiter.check(match.options.rateClass, effectiveLimits(config), config.timeZone);
  if (decision.policy) {
    policy = decision.policy;
    finish({ status: 429, headers: decision.headers, body: rateLimitBody(decision.policy, correlationId, parts.store.portalId, decision.associations) });
    return;
  }

  if (!control && (config.latencyMs > 0 || config.latencyJitterMs > 0)) {
    await sleep(config.latencyMs + Math.random() * config.latencyJitterMs);
  }

  let body: unknown;
  if (bodyText.length > 0) {
    try {
      body = JSON.parse(bodyText);
    } catch {
      finish({ status: 400, headers: decision.headers, body: new HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON on line 1").body(correlationId) });
      return;
    }
  }
  const simReq: SimRequest = { method, path: url.pathname, params: match.params, query: url.searchParams, body, bodyLength: bodyText.length, headers: req.headers, correlationId };
  const ctx: SimContext = { store: parts.store, config, random: dice(config) };
  let out: SimResponse;
  try {
    out = await match.handler(simReq, ctx);
  } catch (err) {
    if (!(err instanceof HubSpotError)) throw err;
    out = { status: err.httpStatus, body: err.body(correlationId) };
  }
  if (dated) out = adaptDatedResponse(dated, out, { multiStatus2026_09: config.multiStatus2026_09 }, started);
  if (fault?.kind === "lost-response") {
    // The work is done (a write is stored) but the client never hears back: what a retry must survive.
    parts.requestLog.record({ method, path: stripCredentials(url), endpoint, status: 0, ms: Date.now() - started, at: started });
    req.socket.destroy();
    return;
  }
  const malformed = out.status >= 200 && out.status < 300 && out.body !== undefined ? pickMalformed(config.faults, paths, dice(config)) : null;
  if (malformed) {
    const { text } = malformedBody(out.body, malformed, dice(config));
    res.writeHead(out.status, {
      "X-HubSpot-Correlation-Id": correlationId,
      ...decision.headers,
      ...out.headers,
      "content-type": "application/json;charset=utf-8",
      "content-length": String(Buffer.byteLength(text)),
    });
    res.end(text);
    parts.requestLog.record({ method, path: stripCredentials(url), endpoint, status: out.status, ms: Date.now() - started, at: started }, policy);
    return;
  }
  // Error bodies carry the response's correlation id.
  if (out.body && typeof out.body === "object" && (out.body as { status?: unknown }).status === "error") {
    (out.body as { correlationId?: string }).correlationId = correlationId;
  }
  finish({ ...out, headers: { ...decision.headers, ...out.headers } });
}

/** The registered pattern of a matched route, for per-endpoint counters. */
function patternOf(match: RouteMatch, path: string): string {
  let p = path;
  for (const [k, v] of Object.entries(match.params)) p = p.replace(`/${encodeURIComponent(v)}`, `/{${k}}`).replace(`/${v}`, `/{${k}}`);
  return p;
}

function stripCredentials(url: URL): string {
  if (!url.searchParams.has("hapikey")) return url.pathname + url.search;
  const q = new URLSearchParams(url.searchParams);
  q.delete("hapikey");
  const s = q.toString();
  return url.pathname + (s ? `?${s}` : "");
}
