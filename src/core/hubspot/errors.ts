import { z } from "zod";
import { mapInSlices } from "../slices.ts";

/** HubSpot's error body (every field optional, as HubSpot's error-handling page advises). */
export const HubSpotErrorBody = z
  .object({
    status: z.string().optional(),
    message: z.string().optional(),
    category: z.string().optional(),
    subCategory: z.string().optional(),
    errorType: z.string().optional(),
    policyName: z.string().optional(),
    correlationId: z.string().optional(),
    context: z.record(z.string(), z.unknown()).optional(),
    errors: z.array(z.unknown()).optional(),
  })
  .passthrough();
export type HubSpotErrorBody = z.infer<typeof HubSpotErrorBody>;

/** A request HubSpot answered with an error that retrying will not fix (or retries ran out). */
export class HubSpotError extends Error {
  readonly status: number;
  readonly category: string | undefined;
  readonly correlationId: string | undefined;
  readonly body: HubSpotErrorBody | undefined;
  constructor(status: number, body: HubSpotErrorBody | undefined, fallback: string) {
    super(`HubSpot ${status}${body?.category ? ` ${body.category}` : ""}: ${body?.message ?? fallback}`);
    this.name = "HubSpotError";
    this.status = status;
    this.category = body?.category;
    this.correlationId = body?.correlationId;
    this.body = body;
  }
}

/** No response within the client's request timeout. */
export class RequestTimeoutError extends Error {
  readonly code = "HUBSYNC_TIMEOUT";
  constructor(ms: number) {
    super(`HubSpot did not answer within ${ms} ms`);
    this.name = "RequestTimeoutError";
  }
}

export type Failure =
  | { kind: "rate_limited"; policy: string; headers: Record<string, string>; body: HubSpotErrorBody | undefined }
  /** 5xx, 423, timeouts, dropped connections; `sent` = the request may have been processed. */
  | { kind: "transient"; sent: boolean; status: number; retryAfterMs?: number; message: string }
  /** 477: HubSpot is moving the account; nothing works until Retry-After (up to hours). */
  | { kind: "migration"; retryAfterMs: number | null; body: HubSpotErrorBody | undefined }
  | { kind: "fatal"; error: Error };

const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]);
const NETWORK_CODES = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "UND_ERR_SOCKET", "HUBSYNC_TIMEOUT"]);

function parseBody(raw: unknown): HubSpotErrorBody | undefined {
  let value: unknown = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      return { message: raw.slice(0, 500) };
    }
  }
  const parsed = HubSpotErrorBody.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

function lowerHeaders(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers && typeof headers === "object") {
    for (const [k, v] of Object.entries(headers as Record<string, unknown>)) if (typeof v === "string") out[k.toLowerCase()] = v;
  }
  return out;
}

/** Sorts an HTTP answer that is not a success into what to do next (headers with lower-case names). */
export function classifyResponse(status: number, headers: Record<string, string>, rawBody: unknown): Failure {
  const body = parseBody(rawBody);
  if (status === 429) {
    const policy = body?.policyName ?? (body?.message?.includes("secondly limit") ? "SECONDLY" : "TEN_SECONDLY_ROLLING");
    return { kind: "rate_limited", policy, headers, body };
  }
  if (status === 477) {
    const retryAfter = Number(headers["retry-after"]);
    return { kind: "migration", retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null, body };
  }
  // 530 is HubSpot's answer to a token it cannot parse: a credentials failure like 401, not an outage.
  if ((status >= 500 && status !== 530) || status === 423) {
    const retryAfter = Number(headers["retry-after"]);
    return {
      kind: "transient",
      sent: true,
      status,
      message: body?.message ?? `HTTP ${status}`,
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : status === 423 ? { retryAfterMs: 2000 } : {}),
    };
  }
  return { kind: "fatal", error: new HubSpotError(status, body, "request rejected") };
}

/** Sorts an error thrown by @hubspot/api-client (ApiException or a socket error) into what to do next. */
export function classify(err: unknown): Failure {
  if (!(err instanceof Error)) return { kind: "fatal", error: new Error(String(err)) };
  const e = err as Error & { code?: unknown; body?: unknown; headers?: unknown; cause?: { code?: unknown } };
  if (typeof e.code === "number") return classifyResponse(e.code, lowerHeaders(e.headers), e.body);
  const code = typeof e.code === "string" ? e.code : typeof e.cause?.code === "string" ? e.cause.code : undefined;
  if (code && NOT_SENT_CODES.has(code)) return { kind: "transient", sent: false, status: 0, message: e.message };
  if ((code && NETWORK_CODES.has(code)) || /socket hang up|other side closed|fetch failed/i.test(e.message)) {
    return { kind: "transient", sent: true, status: 0, message: e.message };
  }
  return { kind: "fatal", error: e };
}

/**
 * hubsync must not call HubSpot before `until`: the daily quota is used up, the access token was
 * refused, HubSpot is migrating the account, or (per request) the app lacks a scope. Tasks re-queue themselves for `until` instead
 * of failing into graphile-worker's backoff; the message is what hubsync.status shows.
 */
export type PauseReason = "daily" | "auth" | "migration" | "scopes";

export class PausedError extends Error {
  readonly until: Date;
  readonly reason: PauseReason;
  constructor(reason: PauseReason, until: Date, message: string) {
    super(message);
    this.name = "PausedError";
    this.reason = reason;
    this.until = until;
  }
}

/** How the pause sentence begins when hubsync stops at HUBSYNC_DAILY_RESERVE rather than at HubSpot's 429. */
export const RESERVE_STOP = "Down to the day's reserve for the portal's other apps (HUBSYNC_DAILY_RESERVE)";

export class DailyLimitError extends PausedError {
  constructor(until: Date, detail: string) {
    const whole = detail.startsWith("HubSpot daily API limit reached") || detail.startsWith(RESERVE_STOP);
    super("daily", until, whole ? detail : `HubSpot daily API limit reached; waiting until ${formatUtc(until)} (${detail})`);
    this.name = "DailyLimitError";
  }
}

/** HubSpot answered 401: the token is expired, revoked or wrong. Everything waits; one probe a minute. */
export class AuthPausedError extends PausedError {
  constructor(until: Date, message: string) {
    super("auth", until, message);
    this.name = "AuthPausedError";
  }
}

/** HubSpot answered 403 (MISSING_SCOPES): only the calls needing that scope wait. */
export class MissingScopesError extends PausedError {
  readonly status = 403;
  constructor(until: Date, message: string) {
    super("scopes", until, message);
    this.name = "MissingScopesError";
  }
}

export function formatUtc(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/**
 * HubSpot answered 2xx with something that is not what the API documents (cut-off JSON, a record
 * without an id, a list that is not a list). Not retried: the run fails with this sentence and
 * writes nothing, and the next run asks again.
 */
export class MalformedResponseError extends Error {
  readonly endpoint: string;
  constructor(endpoint: string, detail: string) {
    super(`HubSpot sent a malformed answer to ${endpoint}: ${detail}`);
    this.name = "MalformedResponseError";
    this.endpoint = endpoint;
  }
}

/** A lone half of a UTF-16 surrogate pair (JSON may carry one as an escape; it is no character). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * PostgreSQL text and jsonb cannot hold U+0000 or a lone surrogate, which HubSpot values can carry
 * (imports, form posts): one such value would fail the write of its whole page, on every run. Every
 * string of an answer loses U+0000 and gets U+FFFD for a lone surrogate before anything else sees
 * the answer (in place; objects without one are not copied).
 */
export function storable<T>(value: T): T {
  if (typeof value === "string") {
    let v: string = value;
    if (v.includes("\u0000")) v = v.replaceAll("\u0000", "");
    if (/[\ud800-\udfff]/.test(v)) v = v.replace(LONE_SURROGATE, "\ufffd");
    return v as T;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = storable(value[i]);
    return value;
  }
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const o = value as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      const clean = storable(key);
      const v = storable(o[key]);
      if (clean !== key) {
        delete o[key];
        o[clean] = v;
      } else if (v !== o[key]) o[key] = v;
    }
  }
  return value;
}

/**
 * Answers parsed from JSON text that has no escape for U+0000 or a surrogate: JSON carries those
 * characters only as escapes (raw control characters are not JSON, and decoded UTF-8 holds no lone
 * surrogate), so nothing in them needs storable's walk over every string, which cost a page of
 * 100 records with hundreds of properties several milliseconds of the worker's time.
 */
const cleanAnswers = new WeakSet<object>();
const UNSTORABLE_ESCAPE = /\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})/;

/** JSON.parse of an answer's text, marked clean for parseResponse when the text shows it is. */
export function parseAnswerText(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (value !== null && typeof value === "object" && !UNSTORABLE_ESCAPE.test(text)) cleanAnswers.add(value);
  return value;
}

/** zod's first issue, in one line: where in the body, and what was wrong. Strings are made storable first. */
export function parseResponse<T>(schema: z.ZodType<T>, raw: unknown, endpoint: string): T {
  const r = schema.safeParse(raw !== null && typeof raw === "object" && cleanAnswers.has(raw) ? raw : storable(raw));
  if (r.success) return r.data;
  throw malformed(endpoint, r.error.issues, []);
}

/**
 * The items of an array parseResponse passed through unchecked (the records of a page), each
 * checked by `schema` a slice at a time (src/core/slices.ts); the first bad one fails the answer,
 * named by its place (`at`, then its index) as parseResponse would name it.
 */
export function parseEach<T>(schema: z.ZodType<T>, items: readonly unknown[], endpoint: string, at: ReadonlyArray<string | number>): Promise<T[]> {
  return mapInSlices(items, (item, i) => {
    const r = schema.safeParse(item);
    if (r.success) return r.data;
    throw malformed(endpoint, r.error.issues, [...at, i]);
  });
}

function malformed(endpoint: string, issues: z.core.$ZodIssue[], at: ReadonlyArray<string | number>): MalformedResponseError {
  const [first, ...rest] = issues;
  const path = [...at, ...(first?.path ?? [])].map(String);
  const where = path.length ? path.join(".") : "(the body)";
  return new MalformedResponseError(endpoint, `${where}: ${first?.message ?? "unexpected shape"}${rest.length ? ` (and ${rest.length} more problem${rest.length > 1 ? "s" : ""})` : ""}`);
}
