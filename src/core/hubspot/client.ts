import { Client } from "@hubspot/api-client";
import type pg from "pg";
import type { Logger } from "pino";
import { log as rootLog } from "../log.ts";
import { AuthPausedError, classify, DailyLimitError, MalformedResponseError, MissingScopesError, parseResponse, PausedError } from "./errors.ts";
import { createTimeoutAgent } from "./http-agent.ts";
import { createMemoryRateBudget, createPgRateBudget, type BudgetLimits, type Bucket, type RateBudget } from "./rate-budget.ts";
import { countFailure, decide, type Attempts, type RetryPolicy } from "./retry.ts";
import {
  BatchReadResponse,
  ListPage as ListPageSchema,
  OwnersPage,
  PipelinesResponse,
  PropertiesResponse,
  SchemasResponse,
  SearchPage as SearchPageSchema,
  type CrmRecord,
  type ListPage,
  type ObjectSchemaDef,
  type Owner,
  type Pipeline,
  type PropertyDef,
  type SearchPage,
} from "./schemas.ts";
import { recordUsage } from "./usage.ts";

export interface HubSpotApiOptions {
  accessToken: string;
  /** https://api.hubapi.com, or the simulator's URL. */
  basePath?: string;
  /** The database holding hubsync.rate_budget; without one the budget is per process. */
  pool?: pg.Pool | null;
  log?: Logger;
  limits?: Partial<BudgetLimits>;
  /** A request silent for this long is abandoned and retried. */
  timeoutMs?: number;
  /** Attempts for 5xx / timeouts / dropped connections (429s have their own allowance). */
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** General requests in flight at once from this process (search adds up to 4). */
  concurrency?: number;
}

export interface CallOptions {
  /**
   * false for requests that must not be sent twice (creates without an idempotency key): a 5xx or
   * a connection lost after sending is then thrown instead of retried. 429s are always retried:
   * HubSpot did not process the request.
   */
  idempotent?: boolean;
  /** Names the call in logs. */
  label?: string;
}

export interface SearchRequest {
  filterGroups: Array<{ filters: Array<{ propertyName: string; operator: string; value?: string; highValue?: string; values?: string[] }> }>;
  sorts?: Array<{ propertyName: string; direction: "ASCENDING" | "DESCENDING" }>;
  properties?: string[];
  limit?: number;
  after?: string;
}

export interface ClientStats {
  requests: number;
  rateLimited: number;
  retries: number;
}

export interface HubSpotApi {
  /** Runs one SDK call under the portal's rate budget, with HubSpot-aware retries. */
  call<T>(bucket: Bucket, fn: (sdk: Client) => Promise<T>, options?: CallOptions): Promise<T>;
  listPage(objectType: string, opts: { after?: string | null; limit?: number; properties?: string[]; archived?: boolean }): Promise<ListPage>;
  /** Full records by id through a POST body (no 414 however many properties); ids HubSpot does not know are returned in `missing`. */
  batchRead(objectType: string, ids: string[], properties: string[], opts?: { archived?: boolean }): Promise<{ results: CrmRecord[]; missing: string[] }>;
  search(objectType: string, request: SearchRequest): Promise<SearchPage>;
  properties(objectType: string): Promise<PropertyDef[]>;
  schemas(): Promise<ObjectSchemaDef[]>;
  ownersPage(opts: { after?: string | null; archived?: boolean }): Promise<{ results: Owner[]; nextAfter: string | null }>;
  pipelines(objectType: string): Promise<Pipeline[]>;
  readonly budget: RateBudget;
  /** Totals for this client since it was created. */
  readonly stats: ClientStats;
  close(): void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));


/** At most `n` holders at once; release() is idempotent so every path may call it. */
function createSemaphore(n: number) {
  let free = n;
  const waiting: Array<() => void> = [];
  return {
    async acquire(): Promise<() => void> {
      if (free > 0) free--;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const next = waiting.shift();
        if (next) next();
        else free++;
      };
    },
  };
}
export function createHubSpotApi(options: HubSpotApiOptions): HubSpotApi {
  const basePath = options.basePath ?? "https://api.hubapi.com";
  const log = (options.log ?? rootLog).child({ component: "hubspot" });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const budget = options.pool ? createPgRateBudget(options.pool, options.limits) : createMemoryRateBudget(options.limits);
  const retryPolicy: RetryPolicy = {
    maxAttempts: options.maxAttempts ?? 6,
    backoffBaseMs: options.backoffBaseMs ?? 500,
    backoffCapMs: options.backoffCapMs ?? 30_000,
    limits: budget.limits,
  };
  const concurrency = options.concurrency ?? 8;
  // search has its own (small) allowance: waiting search calls must not hold general ones back
  const inFlight: Record<Bucket, ReturnType<typeof createSemaphore>> = {
    general: createSemaphore(concurrency),
    search: createSemaphore(4),
    associations: createSemaphore(concurrency),
  };
  const agent = createTimeoutAgent(basePath, timeoutMs, 2 * concurrency + 4);
  const stats: ClientStats = { requests: 0, rateLimited: 0, retries: 0 };

  const sdk = new Client({
    accessToken: options.accessToken,
    basePath,
    numberOfApiCallRetries: 0, // we retry ourselves, on HubSpot's terms and under the shared budget
    httpAgent: agent,
    middleware: [
      {
        pre: (ctx: unknown) => ctx,
        post: (ctx: unknown) => {
          const headers = (ctx as { headers?: Record<string, string> }).headers;
          if (headers) budget.observe(headers).catch((err: unknown) => log.warn({ err }, "could not record rate-limit headers"));
          return ctx;
        },
      },
    ],
  });

  async function call<T>(bucket: Bucket, fn: (sdk: Client) => Promise<T>, callOptions: CallOptions = {}): Promise<T> {
    const idempotent = callOptions.idempotent ?? true;
    let attempts: Attempts = { failures: 0, limited: 0 };
    for (;;) {
      // A slot is reserved only once a socket is ours, so the request leaves when the budget says
      // (reserving first and queueing for a socket after would bunch requests at HubSpot's end).
      const release = await inFlight[bucket].acquire();
      const started = Date.now();
      let slot: unknown = null;
      try {
        slot = await budget.reserve(bucket);
        stats.requests++;
        recordUsage("requests");
        try {
          const result = await fn(sdk);
          await budget.answered(slot).catch((err: unknown) => log.warn({ err }, "could not end the pause after a successful probe"));
          return result;
        } finally {
          await budget.settle(bucket, slot).catch((err: unknown) => log.warn({ err }, "could not settle a rate-budget slot"));
        }
      } catch (err) {
        release();
        if (err instanceof PausedError) throw err;
        // the SDK parses the body before we see it: cut-off or non-JSON answers arrive as a SyntaxError
        if (err instanceof SyntaxError) throw new MalformedResponseError(callOptions.label ?? "a HubSpot request", `the body is not valid JSON (${err.message})`);
        const failure = classify(err);
        attempts = countFailure(attempts, failure);
        if (failure.kind === "rate_limited") {
          stats.rateLimited++;
          recordUsage("rateLimited");
        }
        const decision = decide({ failure, bucket, idempotent, ...(callOptions.label ? { label: callOptions.label } : {}) }, attempts, retryPolicy, new Date(), Math.random());
        switch (decision.kind) {
          case "fail":
            throw decision.error;
          case "pause": {
            const { reason, until, message } = decision;
            const correlationId = failure.kind === "fatal" ? (failure.error as { correlationId?: string }).correlationId : failure.kind === "rate_limited" ? failure.body?.correlationId : undefined;
            if (decision.portalWide && reason !== "scopes") await budget.pause(reason, until, message);
            log.error({ reason, correlationId, label: callOptions.label, retryAt: until.toISOString() }, message);
            throw reason === "daily" ? new DailyLimitError(until, message) : reason === "auth" ? new AuthPausedError(until, message) : new MissingScopesError(until, message);
          }
          case "wait-window":
            log.warn({ bucket, policy: decision.policy, waitMs: decision.waitMs, label: callOptions.label }, "HubSpot rate limit hit (429); waiting for the window");
            await budget.block(bucket, decision.waitMs, decision.policy.toLowerCase());
            if (decision.giveUp) throw decision.giveUp;
            continue;
          case "retry":
            stats.retries++;
            recordUsage("retries");
            log.warn(
              {
                bucket,
                status: failure.kind === "transient" ? failure.status : undefined,
                attempt: attempts.failures,
                waitMs: Math.round(decision.waitMs),
                ms: Date.now() - started,
                label: callOptions.label,
                error: failure.kind === "transient" ? failure.message : undefined,
              },
              "HubSpot request failed; retrying",
            );
            await sleep(decision.waitMs);
        }
      } finally {
        release();
      }
    }
  }

  return {
    budget,
    stats,
    call,
    async listPage(objectType, opts) {
      const raw = await call(
        "general",
        (s) => s.crm.objects.basicApi.getPage(objectType, opts.limit ?? 100, opts.after ?? undefined, opts.properties, undefined, undefined, opts.archived ?? false),
        { label: `list ${objectType} (GET /crm/v3/objects/${objectType})` },
      );
      const page = parseResponse(ListPageSchema, raw, `list ${objectType} (GET /crm/v3/objects/${objectType})`);
      return { results: page.results, nextAfter: page.paging };
    },
    async batchRead(objectType, ids, properties, opts = {}) {
      if (ids.length === 0) return { results: [], missing: [] };
      const raw = await call(
        "general",
        (s) => s.crm.objects.batchApi.read(objectType, { inputs: ids.map((id) => ({ id })), properties, propertiesWithHistory: [] }, opts.archived ?? false),
        { label: `batch read ${objectType} (POST /crm/v3/objects/${objectType}/batch/read)` },
      );
      const res = parseResponse(BatchReadResponse, raw, `batch read ${objectType} (POST /crm/v3/objects/${objectType}/batch/read)`);
      const missing = (res.errors ?? []).flatMap((e) => (e.category === "OBJECT_NOT_FOUND" ? (e.context?.ids ?? []) : []));
      return { results: res.results, missing };
    },
    async search(objectType, request) {
      const raw = await call("search", (s) => s.crm.objects.searchApi.doSearch(objectType, request as never), { label: `search ${objectType} (POST /crm/v3/objects/${objectType}/search)` });
      const page = parseResponse(SearchPageSchema, raw, `search ${objectType} (POST /crm/v3/objects/${objectType}/search)`);
      return { total: page.total, results: page.results, nextAfter: page.paging };
    },
    async properties(objectType) {
      const raw = await call("general", (s) => s.crm.properties.coreApi.getAll(objectType, false), { label: `properties ${objectType} (GET /crm/v3/properties/${objectType})` });
      return parseResponse(PropertiesResponse, raw, `properties ${objectType} (GET /crm/v3/properties/${objectType})`).results;
    },
    async schemas() {
      const raw = await call("general", (s) => s.crm.schemas.coreApi.getAll(false), { label: "schemas (GET /crm/v3/schemas)" });
      return parseResponse(SchemasResponse, raw, "schemas (GET /crm/v3/schemas)").results;
    },
    async ownersPage(opts) {
      const raw = await call("general", (s) => s.crm.owners.ownersApi.getPage(undefined, opts.after ?? undefined, 100, opts.archived ?? false), {
        label: "owners (GET /crm/v3/owners)",
      });
      const page = parseResponse(OwnersPage, raw, "owners (GET /crm/v3/owners)");
      return { results: page.results, nextAfter: page.paging };
    },
    async pipelines(objectType) {
      const raw = await call("general", (s) => s.crm.pipelines.pipelinesApi.getAll(objectType), { label: `pipelines ${objectType} (GET /crm/v3/pipelines/${objectType})` });
      return parseResponse(PipelinesResponse, raw, `pipelines ${objectType} (GET /crm/v3/pipelines/${objectType})`).results;
    },
    close() {
      agent.destroy();
    },
  };
}
