import type { ObjectTypeDef } from "./object-types.ts";
import type { PropertyDefinition, Store, StoredRecord } from "./store.ts";
import { HubSpotError } from "./http-errors.ts";

/**
 * Checks and normalises property values the way HubSpot does on writes: unknown and read-only
 * properties, enum options, numbers, booleans, dates and contact emails. Values come back in
 * HubSpot's canonical string forms (numbers canonical, "true"/"false", ISO datetimes with ms,
 * YYYY-MM-DD dates, lowercased emails). Problems are answered as HubSpot does: a
 * 400 VALIDATION_ERROR whose message lists each property's problem, with one entry per problem in
 * `errors` (see http-errors.ts for the body's shape).
 */

export interface PropertyProblem {
  name: string;
  /** HubSpot's code: PROPERTY_DOESNT_EXIST, READ_ONLY_VALUE, INVALID_OPTION, INVALID_INTEGER, ... */
  error: string;
  message: string;
}

export interface Validated {
  values: Record<string, string>;
  problems: PropertyProblem[];
}

export interface ValidateOptions {
  /** The record being updated: a leading ";" appends to its multi-select values. */
  existing?: StoredRecord;
  /** The control API writes as a HubSpot user/system and may set read-only values. */
  allowReadOnly?: boolean;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function validateProperties(store: Store, type: ObjectTypeDef, input: Record<string, unknown>, options: ValidateOptions = {}): Validated {
  const values: Record<string, string> = {};
  const problems: PropertyProblem[] = [];
  for (const [name, raw] of Object.entries(input)) {
    const def = store.property(type, name);
    if (!def) {
      problems.push({ name, error: "PROPERTY_DOESNT_EXIST", message: `Property "${name}" does not exist` });
      continue;
    }
    if (def.modificationMetadata.readOnlyValue && !options.allowReadOnly) {
      problems.push({ name, error: "READ_ONLY_VALUE", message: `"${name}" is a read only property; its value cannot be set.` });
      continue;
    }
    const text = raw === null || raw === undefined ? "" : typeof raw === "string" ? raw : String(raw);
    if (text === "") {
      values[name] = "";
      continue;
    }
    const result = normaliseValue(type, def, text, options.existing?.properties[name]);
    if ("problem" in result) problems.push(result.problem);
    else values[name] = result.value;
  }
  return { values, problems };
}

type Normalised = { value: string } | { problem: PropertyProblem };

function normaliseValue(type: ObjectTypeDef, def: PropertyDefinition, text: string, current: string | undefined): Normalised {
  const name = def.name;
  switch (def.type) {
    case "number": {
      const n = Number(text.trim());
      if (text.trim() === "" || !Number.isFinite(n)) {
        return { problem: { name, error: "INVALID_INTEGER", message: `${text} was not a valid number.` } };
      }
      return { value: String(n) };
    }
    case "bool": {
      const t = text.trim().toLowerCase();
      if (t !== "true" && t !== "false") {
        return { problem: { name, error: "INVALID_BOOLEAN", message: `${text} was not a valid boolean (true/false).` } };
      }
      return { value: t };
    }
    case "datetime": {
      const ms = parseTimestamp(text);
      if (ms === undefined) return { problem: { name, error: "INVALID_DATE", message: `${text} was not a valid date/time (ISO 8601 or epoch milliseconds).` } };
      return { value: new Date(ms).toISOString() };
    }
    case "date": {
      const ms = parseTimestamp(text);
      if (ms === undefined) return { problem: { name, error: "INVALID_DATE", message: `${text} was not a valid date (YYYY-MM-DD or epoch milliseconds).` } };
      if (ms % 86_400_000 !== 0) {
        const d = new Date(ms);
        return {
          problem: {
            name,
            error: "INVALID_DATE",
            message: `${text} is at ${d.getUTCHours()}:${d.getUTCMinutes()}:${d.getUTCSeconds()}.${d.getUTCMilliseconds()} UTC, not midnight!`,
          },
        };
      }
      return { value: new Date(ms).toISOString().slice(0, 10) };
    }
    case "enumeration": {
      const allowed = new Set(def.options.map((o) => o.value));
      // Record-id lists (hs_merged_object_ids) have no fixed options.
      const open = def.options.length === 0 && def.calculated;
      const multi = def.fieldType === "checkbox";
      let parts = multi ? text.split(";") : [text];
      if (multi && text.startsWith(";")) parts = [...(current ? current.split(";") : []), ...parts.slice(1)];
      parts = parts.filter((p) => p !== "");
      for (const p of parts) {
        if (!open && !allowed.has(p)) {
          return {
            problem: { name, error: "INVALID_OPTION", message: `${p} was not one of the allowed options: [${[...allowed].join(", ")}]` },
          };
        }
      }
      return { value: [...new Set(parts)].join(";") };
    }
    default: {
      if (name === "email" && type.name === "contacts") {
        const e = text.trim();
        if (!EMAIL.test(e)) return { problem: { name, error: "INVALID_EMAIL", message: `Email address ${text} is invalid` } };
        return { value: e.toLowerCase() };
      }
      if (text.length > 65_536) {
        return { problem: { name, error: "INVALID_LENGTH", message: `Property ${name} is longer than 65536 characters.` } };
      }
      return { value: text };
    }
  }
}

/** ISO 8601 (date or date-time) or epoch milliseconds, as HubSpot accepts them; undefined if neither. */
export function parseTimestamp(text: string): number | undefined {
  const t = text.trim();
  if (/^-?\d+$/.test(t)) return Number(t);
  if (!/^\d{4}-\d{2}-\d{2}/.test(t)) return undefined;
  const ms = Date.parse(t.length === 10 ? `${t}T00:00:00Z` : t);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The `message` HubSpot puts around property problems (a JSON list inside a string). */
export function propertyProblemsMessage(store: Store, problems: PropertyProblem[]): string {
  const list = problems.map((p) => ({
    isValid: false,
    message: p.message,
    error: p.error,
    name: p.name,
    localizedErrorMessage: p.message,
    portalId: store.portalId,
  }));
  return `Property values were not valid: ${JSON.stringify(list)}`;
}

/** The 400 VALIDATION_ERROR a single write answers with. */
export function propertyValidationError(store: Store, problems: PropertyProblem[]): HubSpotError {
  return new HubSpotError(400, "VALIDATION_ERROR", propertyProblemsMessage(store, problems), {
    errors: problems.map((p) => ({ message: p.message, code: p.error, context: { propertyName: [p.name] } })),
  });
}

/** A unique value already held by another live record → HubSpot's 409. */
export function findUniqueConflict(
  store: Store,
  type: ObjectTypeDef,
  values: Record<string, string>,
  selfId?: string,
): { name: string; value: string; existingId: string } | undefined {
  for (const [name, value] of Object.entries(values)) {
    if (value === "" || !store.isIdProperty(type, name) || name === "hs_object_id") continue;
    const holder = store.findByUnique(type, name, value);
    if (holder && holder.id !== selfId) return { name, value, existingId: holder.id };
  }
  return undefined;
}

export function conflictMessage(type: ObjectTypeDef, c: { name: string; value: string; existingId: string }): string {
  if (type.name === "contacts" && c.name === "email") return `Contact already exists. Existing ID: ${c.existingId}`;
  return `A ${type.singular} with ${c.name} "${c.value}" already exists. Existing ID: ${c.existingId}`;
}
