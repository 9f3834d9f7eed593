import { createHash } from "node:crypto";

/** PostgreSQL truncates identifiers beyond 63 bytes (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_BYTES = 63;

/** Columns every hubspot.<table> has; no property may take these names. */
export const SYSTEM_COLUMNS = ["id", "properties", "created_at", "updated_at", "archived_at", "_sync_hash", "_sync_inserted_at", "_sync_updated_at"];

export function isReservedColumn(name: string): boolean {
  return SYSTEM_COLUMNS.includes(name) || name.startsWith("_sync_");
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function shortHash(text: string, chars: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, chars);
}

/** Lower snake case from HubSpot's names (which are mostly that already). */
export function snake(name: string): string {
  const s = name
    .normalize("NFKD")
    .replace(/[^\x00-\x7f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return s === "" ? "x" : /^[0-9]/.test(s) ? `p_${s}` : s;
}

/**
 * A column name for a property: its snake-cased name when that fits, otherwise a truncation with
 * a hash of the full property name (deterministic, so every install names it the same way).
 * `taken` holds the names already used in the table; a clash gets a hash suffix too, and longer
 * hashes until it is unique. System column names are never produced.
 */
export function columnNameFor(propertyName: string, taken: ReadonlySet<string>): string {
  let base = snake(propertyName);
  if (isReservedColumn(base)) base = `p_${base.replace(/^_+/, "")}`;
  if (Buffer.byteLength(base) <= MAX_IDENTIFIER_BYTES && !taken.has(base)) return base;
  for (let chars = 8; chars <= 32; chars += 4) {
    const suffix = `_${shortHash(propertyName, chars)}`;
    const candidate = base.slice(0, MAX_IDENTIFIER_BYTES - suffix.length) + suffix;
    if (!taken.has(candidate)) return candidate;
  }
  throw new Error(`hubsync: no free column name for property ${propertyName}`);
}

/** A table name for an object type in schema hubspot (same 63-byte rule). */
export function tableNameFor(objectName: string): string {
  const base = snake(objectName);
  if (Buffer.byteLength(base) <= MAX_IDENTIFIER_BYTES) return base;
  const suffix = `_${shortHash(objectName, 8)}`;
  return base.slice(0, MAX_IDENTIFIER_BYTES - suffix.length) + suffix;
}

/** A name derived from an existing identifier with a suffix, still within 63 bytes. */
export function withSuffix(name: string, suffix: string): string {
  if (Buffer.byteLength(name + suffix) <= MAX_IDENTIFIER_BYTES) return name + suffix;
  const tail = `_${shortHash(name + suffix, 8)}${suffix}`;
  return name.slice(0, MAX_IDENTIFIER_BYTES - tail.length) + tail;
}
