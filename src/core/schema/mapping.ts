import type { PropertyDef } from "../hubspot/schemas.ts";

/** The PostgreSQL types hubsync creates for HubSpot properties (README.md, "Types", lists them for users). */
export type PgType = "text" | "numeric" | "date" | "timestamptz" | "boolean" | "text[]";

export function pgTypeFor(def: Pick<PropertyDef, "type" | "fieldType">): PgType {
  switch (def.type) {
    case "number":
      return "numeric";
    case "date":
      return "date";
    case "datetime":
      return "timestamptz";
    case "bool":
    case "boolean":
      return "boolean";
    case "enumeration":
      // checkbox = multi-select; HubSpot sends the chosen values joined with ';'
      return def.fieldType === "checkbox" ? "text[]" : "text";
    default:
      // string, phone_number, json, object_coordinates, and anything HubSpot adds later
      return "text";
  }
}

const EPOCH_MS = /^-?\d{10,}$/;

/**
 * Years PostgreSQL takes back from toISOString() (years past 9999 print as "+010000-…", which it
 * refuses; year 0 does not exist there). A value outside would fail the write of its whole page.
 */
function inRange(d: Date): boolean {
  const y = d.getUTCFullYear();
  return y >= 1 && y <= 9999;
}

function toDate(value: string): Date | null {
  const d = EPOCH_MS.test(value) ? new Date(Number(value)) : new Date(value);
  return Number.isNaN(d.getTime()) || !inRange(d) ? null : d;
}

/** PostgreSQL numeric overflows past about 10^131072; HubSpot numbers are nowhere near, a bad value may be. */
const MAX_NUMERIC_EXPONENT = 1_000;
const MAX_NUMERIC_LENGTH = 1_000;

function toNumeric(value: string): string | null {
  const trimmed = value.trim();
  if (trimmed.length > MAX_NUMERIC_LENGTH) return null;
  const m = /^[-+]?(\d+\.?\d*|\.\d+)(?:[eE]([-+]?\d+))?$/.exec(trimmed);
  if (!m) return null;
  return m[2] !== undefined && Math.abs(Number(m[2])) > MAX_NUMERIC_EXPONENT ? null : trimmed;
}

/**
 * HubSpot sends every property value as a string. This gives the typed column's value, or null
 * when the string does not fit the type (the raw string is always kept in `properties` jsonb,
 * so nothing is lost). Values are JSON-friendly: they travel to Postgres in a jsonb document.
 */
export function convertValue(value: string | null | undefined, pgType: PgType): string | boolean | string[] | null {
  if (value === null || value === undefined || value === "") return null;
  switch (pgType) {
    case "text":
      return value;
    case "numeric":
      return toNumeric(value);
    case "boolean": {
      const v = value.trim().toLowerCase();
      return v === "true" ? true : v === "false" ? false : null;
    }
    case "date": {
      // a calendar date that exists (not 2026-13-45, not 0000-00-00), else any date/time form
      if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
        const d = new Date(`${value}T00:00:00Z`);
        return !Number.isNaN(d.getTime()) && inRange(d) && d.toISOString().slice(0, 10) === value ? value : null;
      }
      const d = toDate(value);
      return d ? d.toISOString().slice(0, 10) : null;
    }
    case "timestamptz": {
      const d = toDate(value);
      return d ? d.toISOString() : null;
    }
    case "text[]":
      return value
        .split(";")
        .map((s) => s.trim())
        .filter((s) => s !== "");
  }
}
