import type { IncomingHttpHeaders } from "node:http";
import type { Store } from "./store.ts";
import type { SimulatorConfig } from "./config.ts";

/**
 * Path routing for the simulator. Each feature module registers its routes with
 * `router.route(method, pattern, handler, options)`; patterns use `{name}` segments
 * (`/crm/v3/objects/{objectType}/{objectId}`). Handlers return a plain `{status, body}` and
 * throw `HubSpotError` (http-errors.ts) for HubSpot-shaped failures.
 */

export interface SimRequest {
  method: string;
  /** Path without the query string, e.g. "/crm/v3/objects/contacts". */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Parsed JSON body (undefined when there was none). */
  body: unknown;
  /** Raw body length in characters (search caps it at 3,000). */
  bodyLength: number;
  headers: IncomingHttpHeaders;
  correlationId: string;
}

export interface SimResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface SimContext {
  store: Store;
  config: SimulatorConfig;
  /** Dice for faults a handler injects: seeded while `faults.seed` is set. */
  random: () => number;
}

export type Handler = (req: SimRequest, ctx: SimContext) => SimResponse | Promise<SimResponse>;

/**
 * Which rate-limit buckets a route draws from: "general" = ten-secondly + daily;
 * "search" = the search per-second bucket + daily (exempt from ten-secondly, no headers);
 * "associations" = exempt from ten-secondly (per the spec) but in the associations' own burst
 * window (unless switched off) + daily; "none" = not limited, no bearer needed (the control API).
 */
export type RateClass = "general" | "search" | "associations" | "none";

export interface RouteOptions {
  rateClass?: RateClass;
  /** Control routes need no bearer token. */
  auth?: boolean;
}

interface Route {
  method: string;
  segments: string[];
  handler: Handler;
  options: Required<RouteOptions>;
  /** Literal segments count more, so "/x/batch/read" beats "/x/{id}/..." patterns. */
  literals: number;
}

export interface RouteMatch {
  handler: Handler;
  params: Record<string, string>;
  options: Required<RouteOptions>;
}

export class Router {
  private routes: Route[] = [];

  route(method: string, pattern: string, handler: Handler, options: RouteOptions = {}): void {
    const segments = pattern.split("/").filter(Boolean);
    this.routes.push({
      method: method.toUpperCase(),
      segments,
      handler,
      options: { rateClass: options.rateClass ?? "general", auth: options.auth ?? true },
      literals: segments.filter((s) => !s.startsWith("{")).length,
    });
    this.routes.sort((a, b) => b.literals - a.literals);
  }

  /** The route for a request, or "method" when the path exists under another method. */
  match(method: string, path: string): RouteMatch | "method" | undefined {
    const parts = path.split("/").filter(Boolean).map(safeDecode);
    let pathMatched = false;
    for (const r of this.routes) {
      if (r.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = r.segments[i]!;
        if (seg.startsWith("{")) params[seg.slice(1, -1)] = parts[i]!;
        else ok = seg === parts[i];
      }
      if (!ok) continue;
      if (r.method !== method.toUpperCase()) {
        pathMatched = true;
        continue;
      }
      return { handler: r.handler, params, options: r.options };
    }
    return pathMatched ? "method" : undefined;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
