import { validationError } from "./http-errors.ts";

/**
 * Query-string readers shared by the routes: arrays as repeated keys or comma lists (the SDK
 * sends the first, the docs show the second), booleans, limits with HubSpot's caps.
 */

export function listParam(query: URLSearchParams, name: string): string[] | null {
  const raw = query.getAll(name);
  if (raw.length === 0) return null;
  return raw.flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
}

export function boolParam(query: URLSearchParams, name: string): boolean {
  return (query.get(name) ?? "").toLowerCase() === "true";
}

/** `limit` with a default and a maximum: above the maximum → 400, or clamped when configured. */
export function limitParam(raw: string | number | null | undefined, fallback: number, max: number, clamp: boolean): number {
  if (raw === null || raw === undefined || raw === "") return fallback;
  const n = typeof raw === "number" ? raw : Number(raw);
  if (!Number.isInteger(n) || n < 1) throw validationError(`limit must be a positive integer, got ${String(raw)}`);
  if (n > max) {
    if (clamp) return max;
    throw validationError(`limit must be no more than ${max}, got ${n}`, { context: { limit: [String(n)] } });
  }
  return n;
}

/** Opaque list cursors: base64url of the last id served. */
export function encodeCursor(idNum: number): string {
  return Buffer.from(String(idNum)).toString("base64url");
}

export function decodeCursor(after: string | null): number {
  if (!after) return 0;
  const text = Buffer.from(after, "base64url").toString("utf8");
  if (!/^\d+$/.test(text)) throw validationError(`Invalid paging cursor after=${after}`);
  return Number(text);
}
