import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * HubSpot's webhook signatures, used by both ends: the receiver verifies, the simulator signs. v3 = base64 HMAC-SHA256(secret, method + uri + body + timestamp) with a
 * 5-minute timestamp window; v2 = hex sha256(secret + method + uri + body); v1 = hex sha256(secret + body).
 */

export const SIGNATURE_VERSIONS = ["v1", "v2", "v3"] as const;
export type SignatureVersion = (typeof SIGNATURE_VERSIONS)[number];

/** HubSpot rejects (and so do we) a v3 request whose timestamp is more than 5 minutes old. */
export const MAX_TIMESTAMP_AGE_MS = 5 * 60 * 1000;

export interface SignedRequest {
  method: string;
  /** The full URL HubSpot posted to: scheme, host, path and query. */
  url: string;
  /** The raw body, exactly as received (never re-serialised JSON). */
  body: string;
  /** Epoch ms from X-HubSpot-Request-Timestamp (v3 only). */
  timestamp?: number;
}

// HubSpot signs the URI with these characters decoded (third-party verifiers agree on the list).
const DECODED: Array<[RegExp, string]> = [
  ["%3A", ":"], ["%2F", "/"], ["%3F", "?"], ["%40", "@"], ["%21", "!"], ["%24", "$"], ["%27", "'"],
  ["%28", "("], ["%29", ")"], ["%2A", "*"], ["%2C", ","], ["%3B", ";"],
].map(([from, to]) => [new RegExp(from as string, "gi"), to as string]);

export function canonicalUri(url: string): string {
  return DECODED.reduce((uri, [pattern, to]) => uri.replace(pattern, to), url);
}

export function sign(version: SignatureVersion, secret: string, req: SignedRequest): string {
  const method = req.method.toUpperCase();
  switch (version) {
    case "v1":
      return createHash("sha256").update(secret + req.body, "utf8").digest("hex");
    case "v2":
      return createHash("sha256").update(secret + method + canonicalUri(req.url) + req.body, "utf8").digest("hex");
    case "v3":
      if (req.timestamp === undefined) throw new Error("a v3 signature needs the request timestamp");
      return createHmac("sha256", secret).update(method + canonicalUri(req.url) + req.body + String(req.timestamp), "utf8").digest("base64");
  }
}

export type Verdict = { ok: true; version: SignatureVersion } | { ok: false; reason: string };

export interface VerifyOptions {
  secret: string;
  /** Versions this endpoint accepts; HubSpot's current one is v3. */
  accept: readonly SignatureVersion[];
  now?: number;
}

/** Headers as node:http gives them (lower-case names). */
export type RequestHeaders = Record<string, string | string[] | undefined>;

function header(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Compares in constant time whatever the lengths (a length mismatch must not return early). */
export function sameSignature(expected: string, given: string): boolean {
  const a = createHash("sha256").update(expected).digest();
  const b = createHash("sha256").update(given).digest();
  return timingSafeEqual(a, b) && expected.length === given.length;
}

/** Which accepted versions this request carries a header for: v3 has its own header, v1 and v2 share one named by X-HubSpot-Signature-Version. */
function present(headers: RequestHeaders, accept: readonly SignatureVersion[]): { carried: string[]; tried: SignatureVersion[] } {
  const carried: string[] = [];
  if (header(headers, "x-hubspot-signature-v3") !== undefined) carried.push("v3");
  // HubSpot leaves the version header out only on its oldest (v1) requests.
  if (header(headers, "x-hubspot-signature") !== undefined) carried.push((header(headers, "x-hubspot-signature-version") ?? "v1").toLowerCase());
  // The strongest first: a v3 that verifies is the one reported.
  const tried = (["v3", "v2", "v1"] as const).filter((v) => carried.includes(v) && accept.includes(v));
  return { carried, tried };
}

function check(version: SignatureVersion, headers: RequestHeaders, req: Omit<SignedRequest, "timestamp">, secret: string, now: number): string | null {
  if (version === "v3") {
    const raw = header(headers, "x-hubspot-request-timestamp");
    const timestamp = raw !== undefined && /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(timestamp)) return "v3: missing or malformed X-HubSpot-Request-Timestamp";
    if (Math.abs(now - timestamp) > MAX_TIMESTAMP_AGE_MS) return "v3: timestamp outside the 5-minute window";
    return sameSignature(sign("v3", secret, { ...req, timestamp }), header(headers, "x-hubspot-signature-v3")!) ? null : "bad v3 signature";
  }
  return sameSignature(sign(version, secret, req), header(headers, "x-hubspot-signature")!) ? null : `bad ${version} signature`;
}

/**
 * Checks a webhook request's signature headers; never throws. HubSpot sends the v3 header and the
 * older X-HubSpot-Signature on the same request, so a request passes when any version we accept
 * and it carries verifies; the reason for a refusal names every version tried (or, if none could
 * be, which ones arrived).
 */
export function verifySignature(headers: RequestHeaders, req: Omit<SignedRequest, "timestamp">, opts: VerifyOptions): Verdict {
  const now = opts.now ?? Date.now();
  const { carried, tried } = present(headers, opts.accept);
  if (carried.length === 0) return { ok: false, reason: "no signature header" };
  if (tried.length === 0) {
    return { ok: false, reason: `the request is signed with ${carried.join(" and ")}, not with an accepted version (HUBSYNC_WEBHOOK_SIGNATURES=${opts.accept.join(",")})` };
  }
  const failures: string[] = [];
  for (const version of tried) {
    const failure = check(version, headers, req, opts.secret, now);
    if (failure === null) return { ok: true, version };
    failures.push(failure);
  }
  return { ok: false, reason: failures.join("; ") };
}
