import { AsyncLocalStorage } from "node:async_hooks";
import { Client } from "@hubspot/api-client";
import type pg from "pg";
import type { Logger } from "pino";
import { rateLimitSettings } from "../config.ts";
import { log as rootLog } from "../log.ts";
import { createSemaphore, type Semaphore } from "../semaphore.ts";
import { classify, classifyResponse, MalformedResponseError, MissingScopesError, parseAnswerText, parseEach, parseResponse, PausedError, RequestTimeoutError, type Failure } from "./errors.ts";
import { accountPaths } from "./paths/account.ts";
import { associationsPaths } from "./paths/associations.ts";
import { listsPaths } from "./paths/lists.ts";
import { objectsPaths } from "./paths/objects.ts";
import { ownersPaths } from "./paths/owners.ts";
import { pipelinesPaths } from "./paths/pipelines.ts";
import { propertiesPaths } from "./paths/properties.ts";
import { schemasPaths } from "./paths/schemas.ts";
import { DEFAULT_API_VERSION, type ApiVersion } from "./paths/version.ts";
import { createMemoryRateBudget, createPgRateBudget, portalPauseError, type BudgetLimits, type Bucket, type RateBudget } from "./rate-budget.ts";
import { countFailure, decide, type Attempts, type RetryPolicy } from "./retry.ts";
import {
  AccountDetails as AccountDetailsSchema,
  AssociationLabelsResponse,
  BatchReadResponse,
  CrmRecord,
  ListPage as ListPageSchema,
  ListPageAssociations,
  OwnersPage,
  PipelinesResponse,
  PropertiesResponse,
  SchemasResponse,
  SearchPage as SearchPageSchema,
  type AccountDetails,
  type AssociationType,
  type ListPage,
  type ObjectSchemaDef,
  type Owner,
  type Pipeline,
  type PropertyDef,
  type SearchPage,
} from "./schemas.ts";
import { recordUsage } from "./usage.ts";
import { hubspotResponses } from "../operations/metrics.ts";

export interface HubSpotApiOptions {
  accessToken: string;
  /** https://api.hubapi.com, or the simulator's URL. */
  basePath?: string;
  /** The database holding hubsync.rate_budget; without one the budget is per process. */
  pool?: pg.Pool | null;
  log?: Logger;
  limits?: Partial<BudgetLimits>;
  /** Which of HubSpot's path families to call (HUBSYNC_HUBSPOT_API; default the newest dated version). */
  apiVersion?: ApiVersion;
  /** A request unanswered for this long is abandoned and retried. */
  timeoutMs?: number;
  /** Attempts for 5xx / timeouts / dropped connections (429s have their own allowance). */
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** General requests in flight at once from this process (search adds up to 4). */
  concurrency?: number;
  /**
   * Before the first request, read the account's time zone (one account-info call) and reset the
   * daily quota at its midnight, unless HUBSYNC_DAILY_RESET_TZ (or `limits`) names one.
   */
  learnTimeZone?: boolean;
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

/** One HTTP request to HubSpot, by path (see `paths`), answered with its parsed JSON body. */
export interface HubSpotRequest {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  path: string;
  /** Query parameters; a list repeats its key (properties=a&properties=b), as HubSpot's own SDK sends it. */
  query?: Record<string, string | number | boolean | readonly string[] | null | undefined>;
  body?: unknown;
}

/** The path builders of every API family, for this client's API version. */
export interface ApiPaths {
  account: ReturnType<typeof accountPaths>;
  objects: ReturnType<typeof objectsPaths>;
  properties: ReturnType<typeof propertiesPaths>;
  owners: ReturnType<typeof ownersPaths>;
  pipelines: ReturnType<typeof pipelinesPaths>;
  schemas: ReturnType<typeof schemasPaths>;
  associations: ReturnType<typeof associationsPaths>;
  lists: ReturnType<typeof listsPaths>;
}

export function apiPaths(version: ApiVersion): ApiPaths {
  return {
    account: accountPaths(version),
    objects: objectsPaths(version),
    properties: propertiesPaths(version),
    owners: ownersPaths(version),
    pipelines: pipelinesPaths(version),
    schemas: schemasPaths(version),
    associations: associationsPaths(version),
    lists: listsPaths(version),
  };
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
  /**
   * Sends one request under the portal's rate budget, with HubSpot-aware retries, and returns the
   * answer's JSON (undefined for an empty body). A 2xx is an answer whatever its code: 200 and 207
   * batches alike carry their per-input `errors[]`.
   */
  request(bucket: Bucket, request: HubSpotRequest, options?: CallOptions): Promise<unknown>;
  readonly apiVersion: ApiVersion;
  readonly paths: ApiPaths;
  /**
   * A page of records; `associations` (target type names) embeds each record's associated ids (see
   * EmbeddedAssociations); `propertiesWithHistory` adds those properties' versions (HubSpot then
   * serves smaller pages).
   */
  listPage(
    objectType: string,
    opts: { after?: string | null; limit?: number; properties?: string[]; associations?: string[]; archived?: boolean; propertiesWithHistory?: string[] },
  ): Promise<ListPage>;
  /** Full records by id through a POST body (no 414 however many properties); ids HubSpot does not know are returned in `missing`. */
  batchRead(
    objectType: string,
    ids: string[],
    properties: string[],
    opts?: { archived?: boolean; propertiesWithHistory?: string[]; idProperty?: string },
  ): Promise<{ results: CrmRecord[]; missing: string[] }>;
  search(objectType: string, request: SearchRequest): Promise<SearchPage>;
  properties(objectType: string): Promise<PropertyDef[]>;
  schemas(): Promise<ObjectSchemaDef[]>;
  ownersPage(opts: { after?: string | null; archived?: boolean }): Promise<{ results: Owner[]; nextAfter: string | null }>;
  pipelines(objectType: string): Promise<Pipeline[]>;
  /** The account's id, type and time zone. */
  accountDetails(): Promise<AccountDetails>;
  /** The association types (labelled and not) from one object type to another. */
  associationLabels(fromType: string, toType: string): Promise<AssociationType[]>;
  readonly budget: RateBudget;
  /** The X-HubSpot-RateLimit-* headers of the latest answer that carried them (names in lower case). */
  readonly rateHeaders: Readonly<Record<string, string>>;
  /** Totals for this client since it was created. */
  readonly stats: ClientStats;
  close(): void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The push lane. A user who committed a change waits for it to reach HubSpot, while a backfill
 * takes minutes whatever happens: every HubSpot call made inside inPushLane() goes first in the
 * rate budget (within the pushes' share, BudgetLimits.pushShare) and has sockets of its own, so it
 * never queues behind pages a backfill is waiting to send. A context rather than an option on each
 * call, because a push's calls (batch writes, and the property reads, searches, merge checks and
 * association writes around them) sit several functions deep in code the pulls share.
 */
const pushLane = new AsyncLocalStorage<true>();

/** Runs `fn` with its HubSpot calls in the push lane. */
export function inPushLane<T>(fn: () => Promise<T>): Promise<T> {
  return pushLane.run(true, fn);
}

/** The path with its query string; list values repeat the key. */
export function withQuery(path: string, query: HubSpotRequest["query"]): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const v of value) q.append(key, String(v));
    else q.append(key, String(value));
  }
  const text = q.toString();
  return text ? `${path}?${text}` : path;
}

/** What HubSpot answered: status, headers (lower-case names) and the body as text. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** A request answered with something else than a success; carries HubSpot's answer to the retry decision. */
class FailedAnswer extends Error {
  readonly failure: Failure;
  constructor(answer: Answer) {
    super(`HTTP ${answer.status}`);
    this.failure = classifyResponse(answer.status, answer.headers, answer.text);
  }
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
  const inFlight: Record<Bucket, Semaphore> = {
    general: createSemaphore(concurrency),
    search: createSemaphore(4),
    associations: createSemaphore(concurrency),
  };
  // the push lane's sockets: pulls holding every general one while they wait for the budget must not hold a push back
  const pushInFlight: Record<Bucket, Semaphore> = {
    general: createSemaphore(4),
    search: createSemaphore(2),
    associations: createSemaphore(4),
  };
  const stats: ClientStats = { requests: 0, rateLimited: 0, retries: 0 };
  let rateHeaders: Record<string, string> = {};
  const apiVersion = options.apiVersion ?? DEFAULT_API_VERSION;
  const paths = apiPaths(apiVersion);

  // The SDK's generated classes only know the v3/v4 paths; its apiRequest reaches any path with
  // the SDK's auth. It never retries (we do, on HubSpot's terms and under the shared budget).
  const timeZoneSet = options.limits?.dailyResetTimeZone !== undefined || rateLimitSettings().dailyResetTimeZone !== undefined;
  let timeZoneLearned: Promise<void> | null = options.learnTimeZone && !timeZoneSet ? null : Promise.resolve();

  const sdk = new Client({ accessToken: options.accessToken, basePath, numberOfApiCallRetries: 0 });
  let closed = false;

  /**
   * One exchange. apiRequest sends through fetch with no way to pass an agent or a signal, so the
   * timeout races the exchange: an abandoned one is left to finish on its own and is not read.
   */
  async function exchange(req: HubSpotRequest): Promise<Answer> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RequestTimeoutError(timeoutMs)), timeoutMs);
    });
    const answer = (async (): Promise<Answer> => {
      const res = await sdk.apiRequest({ method: req.method, path: withQuery(req.path, req.query), ...(req.body !== undefined ? { body: req.body } : {}) });
      const headers: Record<string, string> = {};
      res.headers.forEach((value, name) => {
        headers[name.toLowerCase()] = value;
      });
      return { status: res.status, headers, text: await res.text() };
    })();
    answer.catch(() => undefined);
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function send(bucket: Bucket, req: HubSpotRequest, label: string): Promise<unknown> {
    if (closed) throw new Error(`hubsync: the HubSpot client is closed (${label})`);
    let answer: Answer;
    try {
      answer = await exchange(req);
    } catch (err) {
      hubspotResponses.inc({ bucket, status: "error" });
      throw err;
    }
    hubspotResponses.inc({ bucket, status: String(answer.status) });
    const limits = Object.entries(answer.headers).filter(([name]) => name.startsWith("x-hubspot-ratelimit-"));
    if (limits.length > 0) rateHeaders = Object.fromEntries(limits);
    budget.observe(answer.headers).catch((err: unknown) => log.warn({ err }, "could not record rate-limit headers"));
    if (answer.status < 200 || answer.status >= 300) throw new FailedAnswer(answer);
    if (answer.text.trim() === "") return undefined;
    try {
      return parseAnswerText(answer.text);
    } catch (err) {
      // cut-off or non-JSON answers
      throw new MalformedResponseError(label, `the body is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
    }
  }

  /** The account's time zone becomes the daily reset's (once per client; a failure leaves the default). */
  function learnTimeZone(): Promise<void> {
    timeZoneLearned ??= accountDetails().then(
      (d) => {
        budget.limits.dailyResetTimeZone = d.timeZone;
        log.info({ portalId: d.portalId, timeZone: d.timeZone }, "HubSpot resets the daily quota at midnight in the account's time zone");
      },
      (err: unknown) => {
        if (err instanceof PausedError) {
          timeZoneLearned = null; // asked again once the pause is over
          throw err;
        }
        log.warn({ error: err instanceof Error ? err.message : String(err) }, `could not read the account's time zone; the daily quota is taken to reset at midnight ${budget.limits.dailyResetTimeZone}`);
      },
    );
    return timeZoneLearned;
  }

  async function accountDetails(): Promise<AccountDetails> {
    const path = paths.account.details();
    const label = `account details (GET ${path})`;
    return parseResponse(AccountDetailsSchema, await call("general", { method: "GET", path }, { label }), label);
  }

  async function request(bucket: Bucket, req: HubSpotRequest, callOptions: CallOptions = {}): Promise<unknown> {
    await learnTimeZone();
    return call(bucket, req, callOptions);
  }

  async function call(requested: Bucket, req: HubSpotRequest, callOptions: CallOptions = {}): Promise<unknown> {
    // HUBSYNC_ASSOCIATIONS_LIMIT=general: association calls keep to the general window instead of their own
    const bucket = requested === "associations" && budget.limits.associationsMode === "general" ? "general" : requested;
    const label = callOptions.label ?? `${req.method} ${req.path}`;
    const idempotent = callOptions.idempotent ?? true;
    const push = pushLane.getStore() === true;
    let attempts: Attempts = { failures: 0, limited: 0 };
    for (;;) {
      // A slot is reserved only once a socket is ours, so the request leaves when the budget says
      // (reserving first and queueing for a socket after would bunch requests at HubSpot's end).
      const release = await (push ? pushInFlight : inFlight)[bucket].acquire();
      const started = Date.now();
      let slot: unknown = null;
      try {
        slot = await budget.reserve(bucket, push);
        stats.requests++;
        recordUsage("requests");
        try {
          const result = await send(bucket, req, label);
          await budget.answered(slot).catch((err: unknown) => log.warn({ err }, "could not end the pause after a successful probe"));
          return result;
        } finally {
          await budget.settle(bucket, slot).catch((err: unknown) => log.warn({ err }, "could not settle a rate-budget slot"));
        }
      } catch (err) {
        release();
        if (err instanceof PausedError || err instanceof MalformedResponseError) throw err;
        const failure = err instanceof FailedAnswer ? err.failure : classify(err);
        attempts = countFailure(attempts, failure);
        if (failure.kind === "rate_limited") {
          stats.rateLimited++;
          recordUsage("rateLimited");
        }
        const decision = decide({ failure, bucket, idempotent, label }, attempts, retryPolicy, new Date(), Math.random());
        switch (decision.kind) {
          case "fail":
            throw decision.error;
          case "pause": {
            const { reason, until, message } = decision;
            const correlationId = failure.kind === "fatal" ? (failure.error as { correlationId?: string }).correlationId : failure.kind === "rate_limited" ? failure.body?.correlationId : undefined;
            log.error({ reason, correlationId, label, retryAt: until.toISOString() }, message);
            if (reason === "scopes") throw new MissingScopesError(until, message);
            if (decision.portalWide) await budget.pause(reason, until, message);
            throw portalPauseError(reason, until, message);
          }
          case "wait-window":
            log.warn({ bucket, policy: decision.policy, waitMs: decision.waitMs, label }, "HubSpot rate limit hit (429); waiting for the window");
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
                label,
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

  const get = (bucket: Bucket, path: string, query: HubSpotRequest["query"], label: string) => request(bucket, { method: "GET", path, query }, { label });

  return {
    budget,
    get rateHeaders() {
      return rateHeaders;
    },
    stats,
    apiVersion,
    paths,
    request,
    async listPage(objectType, opts) {
      const path = paths.objects.list(objectType);
      const label = `list ${objectType} (GET ${path})`;
      const associations = opts.associations?.length ? opts.associations : undefined;
      const raw = await get(
        "general",
        path,
        {
          limit: opts.limit ?? 100,
          after: opts.after,
          properties: opts.properties,
          associations,
          archived: opts.archived ?? false,
          ...(opts.propertiesWithHistory?.length ? { propertiesWithHistory: opts.propertiesWithHistory } : {}),
        },
        label,
      );
      const page = parseResponse(ListPageSchema, raw, label);
      const results = await parseEach(CrmRecord, page.results, label, ["results"]);
      if (!associations) return { results, nextAfter: page.paging };
      const embedded = parseResponse(ListPageAssociations, raw, label).results;
      return { results, nextAfter: page.paging, associations: new Map(embedded.map((r) => [r.id, r.associations ?? {}])) };
    },
    async batchRead(objectType, ids, properties, opts = {}) {
      if (ids.length === 0) return { results: [], missing: [] };
      const path = paths.objects.batch(objectType, "read");
      const label = `batch read ${objectType} (POST ${path})`;
      const raw = await request(
        "general",
        {
          method: "POST",
          path,
          query: { archived: opts.archived ?? false },
          body: { inputs: ids.map((id) => ({ id })), properties, propertiesWithHistory: opts.propertiesWithHistory ?? [], ...(opts.idProperty ? { idProperty: opts.idProperty } : {}) },
        },
        { label },
      );
      const res = parseResponse(BatchReadResponse, raw, label);
      const missing = (res.errors ?? []).flatMap((e) => (e.category === "OBJECT_NOT_FOUND" ? (e.context?.ids ?? []) : []));
      return { results: await parseEach(CrmRecord, res.results, label, ["results"]), missing };
    },
    async search(objectType, body) {
      const path = paths.objects.search(objectType);
      const label = `search ${objectType} (POST ${path})`;
      const raw = await request("search", { method: "POST", path, body }, { label });
      const page = parseResponse(SearchPageSchema, raw, label);
      return { total: page.total, results: await parseEach(CrmRecord, page.results, label, ["results"]), nextAfter: page.paging };
    },
    async properties(objectType) {
      const path = paths.properties.list(objectType);
      const label = `properties ${objectType} (GET ${path})`;
      return parseResponse(PropertiesResponse, await get("general", path, { archived: false }, label), label).results;
    },
    async schemas() {
      const path = paths.schemas.list();
      const label = `schemas (GET ${path})`;
      return parseResponse(SchemasResponse, await get("general", path, { archived: false }, label), label).results;
    },
    async ownersPage(opts) {
      const path = paths.owners.list();
      const label = `owners (GET ${path})`;
      const page = parseResponse(OwnersPage, await get("general", path, { after: opts.after, limit: 100, archived: opts.archived ?? false }, label), label);
      return { results: page.results, nextAfter: page.paging };
    },
    async pipelines(objectType) {
      const path = paths.pipelines.list(objectType);
      const label = `pipelines ${objectType} (GET ${path})`;
      return parseResponse(PipelinesResponse, await get("general", path, undefined, label), label).results;
    },
    accountDetails,
    async associationLabels(fromType, toType) {
      const path = paths.associations.labels(fromType, toType);
      const label = `association labels ${fromType}→${toType} (GET ${path})`;
      return parseResponse(AssociationLabelsResponse, await get("associations", path, undefined, label), label).results;
    },
    close() {
      closed = true;
    },
  };
}
