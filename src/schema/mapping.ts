import type { PropertyDef } from "../hubspot/schemas.ts";

/** The PostgreSQL types hubsync creates for HubSpot properties (DESIGN.md, SQL contract). */
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

function toDate(value: string): Date | null {
  const d = EPOCH_MS.test(value) ? new Date(Number(value)) : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
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
    case "numeric": {
      const trimmed = value.trim();
      return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(trimmed) ? trimmed : null;
    }
    case "boolean": {
      const v = value.trim().toLowerCase();
      return v === "true" ? true : v === "false" ? false : null;
    }
    case "date": {
      if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
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
