import { describe, expect, it } from "vitest";
import { classify, classifyResponse, HubSpotError } from "../src/core/hubspot/errors.ts";
import type { Bucket } from "../src/core/hubspot/rate-budget.ts";
import { AUTH_MESSAGE, countFailure, MALFORMED_TOKEN_MESSAGE, decide, MAX_RATE_LIMITED, type Attempts, type Decision, type RetryPolicy } from "../src/core/hubspot/retry.ts";

/**
 * What the client does after each kind of failed request, without HTTP: HubSpot's answer (status,
 * headers, body) or a socket error, how many times this request already failed, and the decision.
 */

const NOW = new Date("2026-12-07T15:30:00Z");
const policy: RetryPolicy = {
  maxAttempts: 6,
  backoffBaseMs: 500,
  backoffCapMs: 30_000,
  limits: { authPauseMs: 60_000, scopesPauseMs: 600_000, dailyResetTimeZone: "UTC", dailyRecheckMs: 3_600_000 },
};

interface Row {
  what: string;
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** A socket error instead of an answer. */
  network?: { code: string; message: string };
  bucket?: Bucket;
  idempotent?: boolean;
  /** Failures this request met before this one. */
  before?: Attempts;
  random?: number;
  expected: Partial<Decision> & { kind: Decision["kind"] };
  /** Checks beyond the shape (the error's status, the message's words). */
  check?: (d: Decision) => void;
}

const rows: Row[] = [
  {
    what: "401: the whole portal pauses for the auth pause, one probe after",
    status: 401,
    body: { status: "error", message: "Authentication credentials not found", category: "INVALID_AUTHENTICATION" },
    expected: { kind: "pause", reason: "auth", portalWide: true, until: new Date(NOW.getTime() + 60_000), message: AUTH_MESSAGE },
  },
  {
    what: "530 (a token HubSpot cannot read): the same portal-wide pause as a 401, with its own sentence",
    status: 530,
    body: { status: "error", message: "The access token is malformed." },
    expected: { kind: "pause", reason: "auth", portalWide: true, until: new Date(NOW.getTime() + 60_000), message: MALFORMED_TOKEN_MESSAGE },
  },
  {
    what: "477 Migration in progress: the whole portal pauses for Retry-After, not a sleep in the job",
    status: 477,
    headers: { "retry-after": "7200" },
    body: { status: "error", message: "Migration in progress" },
    expected: { kind: "pause", reason: "migration", portalWide: true, until: new Date(NOW.getTime() + 7_200_000) },
    check: (d) => expect(d.kind === "pause" && d.message).toBe("HubSpot is migrating this account (477 Migration in progress); hubsync waits until 2026-12-07 17:30 UTC as HubSpot asked"),
  },
  {
    what: "477 without Retry-After: an hour",
    status: 477,
    expected: { kind: "pause", reason: "migration", portalWide: true, until: new Date(NOW.getTime() + 3_600_000) },
  },
  {
    what: "403 MISSING_SCOPES: only this call waits, and the message names the scope",
    status: 403,
    body: { category: "MISSING_SCOPES", message: "This app hasn't been granted all required scopes", errors: [{ context: { requiredGranularScopes: ["crm.objects.deals.read"] } }] },
    expected: { kind: "pause", reason: "scopes", portalWide: false, until: new Date(NOW.getTime() + 600_000) },
    check: (d) => expect(d.kind === "pause" && d.message).toContain("lacks scope crm.objects.deals.read"),
  },
  {
    what: "403 without scopes: HubSpot's own words",
    status: 403,
    body: { category: "FORBIDDEN", message: "portal is locked" },
    expected: { kind: "pause", reason: "scopes", portalWide: false },
    check: (d) => expect(d.kind === "pause" && d.message).toContain(": portal is locked"),
  },
  {
    what: "404: fails at once",
    status: 404,
    body: { category: "OBJECT_NOT_FOUND", message: "not here" },
    expected: { kind: "fail" },
    check: (d) => expect(d.kind === "fail" && d.error instanceof HubSpotError && d.error.status).toBe(404),
  },
  {
    what: "429 DAILY: the portal pauses until the recheck (an hour, before UTC midnight)",
    status: 429,
    body: { status: "error", message: "You have reached your daily limit.", policyName: "DAILY" },
    expected: { kind: "pause", reason: "daily", portalWide: true, until: new Date(NOW.getTime() + 3_600_000) },
    check: (d) => expect(d.kind === "pause" && d.message).toContain("waiting until 2026-12-08 00:00 UTC"),
  },
  {
    what: "429 for the 10-second window: wait the interval HubSpot names",
    status: 429,
    headers: { "x-hubspot-ratelimit-interval-milliseconds": "10000" },
    body: { policyName: "TEN_SECONDLY_ROLLING", message: "You have reached your ten_secondly_rolling limit." },
    expected: { kind: "wait-window", waitMs: 10_000, policy: "TEN_SECONDLY_ROLLING" },
  },
  {
    what: "429 without an interval header: 10 s",
    status: 429,
    body: { message: "rate limited" },
    expected: { kind: "wait-window", waitMs: 10_000, policy: "TEN_SECONDLY_ROLLING" },
  },
  {
    what: "429 SECONDLY: a little over a second",
    status: 429,
    body: { policyName: "SECONDLY" },
    expected: { kind: "wait-window", waitMs: 1_100, policy: "SECONDLY" },
  },
  {
    what: "429 on a search: a little over a second whatever the policy",
    status: 429,
    bucket: "search",
    body: { message: "You have reached your secondly limit." },
    expected: { kind: "wait-window", waitMs: 1_100, policy: "SECONDLY" },
  },
  {
    what: `429 after ${MAX_RATE_LIMITED} waits: the bucket still waits, this request gives up`,
    status: 429,
    body: { policyName: "TEN_SECONDLY_ROLLING" },
    before: { failures: 0, limited: MAX_RATE_LIMITED },
    expected: { kind: "wait-window", waitMs: 10_000 },
    check: (d) => expect(d.kind === "wait-window" && d.giveUp?.message).toContain("still rate limited after many waits"),
  },
  {
    what: "500, first failure: backoff between half the base and the base",
    status: 500,
    random: 0,
    expected: { kind: "retry", waitMs: 250 },
  },
  {
    what: "502, third failure: the backoff doubles per failure",
    status: 502,
    before: { failures: 2, limited: 0 },
    random: 0.999_999,
    expected: { kind: "retry" },
    check: (d) => expect(d.kind === "retry" && Math.round(d.waitMs)).toBe(2_000),
  },
  {
    what: "500 on the last allowed attempt: fails with HubSpot's words",
    status: 500,
    body: { message: "internal error" },
    before: { failures: 5, limited: 0 },
    expected: { kind: "fail" },
    check: (d) => expect(d.kind === "fail" && d.error.message).toBe("HubSpot 500: internal error"),
  },
  {
    what: "503 with Retry-After: waits at least that long",
    status: 503,
    headers: { "retry-after": "7" },
    random: 0,
    expected: { kind: "retry", waitMs: 7_000 },
  },
  {
    what: "423 (locked): two seconds at least",
    status: 423,
    random: 0,
    expected: { kind: "retry", waitMs: 2_000 },
  },
  {
    what: "500 on a request that must not be sent twice: fails (HubSpot may have done it)",
    status: 500,
    idempotent: false,
    expected: { kind: "fail" },
  },
  {
    what: "connection refused on such a request: retried (it never left)",
    network: { code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:1" },
    idempotent: false,
    random: 0,
    expected: { kind: "retry", waitMs: 250 },
  },
  {
    what: "connection reset on such a request: fails",
    network: { code: "ECONNRESET", message: "socket hang up" },
    idempotent: false,
    expected: { kind: "fail" },
  },
  {
    what: "connection reset on an idempotent request: retried",
    network: { code: "ECONNRESET", message: "socket hang up" },
    random: 0,
    expected: { kind: "retry", waitMs: 250 },
  },
];

describe("the retry and pause decision", () => {
  it.each(rows)("$what", (row) => {
    const failure = row.network
      ? classify(Object.assign(new Error(row.network.message), { code: row.network.code }))
      : classifyResponse(row.status!, row.headers ?? {}, row.body === undefined ? "" : JSON.stringify(row.body));
    const attempts = countFailure(row.before ?? { failures: 0, limited: 0 }, failure);
    const decision = decide({ failure, bucket: row.bucket ?? "general", idempotent: row.idempotent ?? true }, attempts, policy, NOW, row.random ?? 0.5);
    expect(decision).toMatchObject(row.expected);
    row.check?.(decision);
  });
});
