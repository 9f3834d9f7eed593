import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * HubSpot's webhook signatures, used by both ends: the receiver verifies, the
 * simulator signs. v3 = base64 HMAC-SHA256(secret, method + uri + body + timestamp) with a
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

/** Checks a webhook request's signature headers; never throws. */
export function verifySignature(headers: RequestHeaders, req: Omit<SignedRequest, "timestamp">, opts: VerifyOptions): Verdict {
  const now = opts.now ?? Date.now();
  const v3 = header(headers, "x-hubspot-signature-v3");
  if (v3 !== undefined) {
    if (!opts.accept.includes("v3")) return { ok: false, reason: "v3 signatures are not accepted here" };
    const raw = header(headers, "x-hubspot-request-timestamp");
    const timestamp = raw !== undefined && /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(timestamp)) return { ok: false, reason: "missing or malformed X-HubSpot-Request-Timestamp" };
    if (Math.abs(now - timestamp) > MAX_TIMESTAMP_AGE_MS) return { ok: false, reason: "timestamp outside the 5-minute window" };
    return sameSignature(sign("v3", opts.secret, { ...req, timestamp }), v3) ? { ok: true, version: "v3" } : { ok: false, reason: "bad v3 signature" };
  }
  const given = header(headers, "x-hubspot-signature");
  if (given === undefined) return { ok: false, reason: "no signature header" };
  const version = (header(headers, "x-hubspot-signature-version") ?? "v1").toLowerCase();
  if (version !== "v1" && version !== "v2") return { ok: false, reason: `unknown signature version ${version}` };
  if (!opts.accept.includes(version)) return { ok: false, reason: `${version} signatures are not accepted here` };
  return sameSignature(sign(version, opts.secret, req), given) ? { ok: true, version } : { ok: false, reason: `bad ${version} signature` };
}
