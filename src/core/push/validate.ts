import { z } from "zod";
import type { HubSpotApi } from "../hubspot/client.ts";
import { isReadOnlyProperty, type PropertyDef } from "../hubspot/schemas.ts";
import { LOCAL_ID_PROPERTY } from "./plan.ts";

/**
 * The property rules HubSpot applies to every write, checked here from the properties API's
 * definitions: the push refuses a change that breaks them before sending it (a batch update or
 * upsert with one bad input is refused whole by HubSpot, and finding the input costs calls), and
 * the dry run lists them. The messages are HubSpot's own wording, so a rejection reads the same
 * whichever side found it. Where HubSpot's rule is not known exactly, the check is the looser one:
 * a value let through costs a refused call at worst, a value wrongly refused here would never go.
 */

/** A change HubSpot would refuse, by the property's own rules (as the properties API describes them). */
export interface Problem {
  property: string;
  value: string;
  code: string;
  message: string;
}

const Options = z.array(z.object({ value: z.string(), hidden: z.boolean().optional() }).passthrough()).catch([]);

const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}/;
const EPOCH_MS = /^-?\d+$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MAX_STRING = 65_536;
const DAY_MS = 86_400_000;

/** ISO 8601 (date or date-time) or epoch milliseconds, as HubSpot accepts them; undefined if neither. */
function timestampOf(text: string): number | undefined {
  if (EPOCH_MS.test(text)) return Number(text);
  if (!ISO_DATE.test(text)) return undefined;
  const ms = Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Checks one property value against its definition; '' (clearing) is always allowed for writable properties. */
export function checkValue(objectType: string, def: PropertyDef | undefined, name: string, value: string): Problem | null {
  const problem = (code: string, message: string): Problem => ({ property: name, value, code, message });
  if (name === LOCAL_ID_PROPERTY) return null;
  if (!def || def.archived) return problem("PROPERTY_DOESNT_EXIST", `Property "${name}" does not exist`);
  if (isReadOnlyProperty(def)) {
    return problem("READ_ONLY_VALUE", `"${name}" is a read only property; its value cannot be set.`);
  }
  if (value === "") return null;
  const text = value.trim();
  switch (def.type) {
    case "number":
      if (!NUMBER.test(text)) return problem("INVALID_NUMBER", `${value} was not a valid number.`);
      break;
    case "bool":
      if (text.toLowerCase() !== "true" && text.toLowerCase() !== "false") return problem("INVALID_BOOLEAN", `${value} was not a valid boolean (true/false).`);
      break;
    case "date": {
      const ms = timestampOf(text);
      if (ms === undefined) return problem("INVALID_DATE", `${value} was not a valid date (YYYY-MM-DD or epoch milliseconds).`);
      // A date property holds a day: HubSpot refuses any time but UTC midnight.
      if (((ms % DAY_MS) + DAY_MS) % DAY_MS !== 0) {
        const d = new Date(ms);
        return problem("INVALID_DATE", `${value} is at ${d.getUTCHours()}:${d.getUTCMinutes()}:${d.getUTCSeconds()}.${d.getUTCMilliseconds()} UTC, not midnight!`);
      }
      break;
    }
    case "datetime":
      if (timestampOf(text) === undefined && Number.isNaN(Date.parse(text))) {
        return problem("INVALID_DATE", `${value} was not a valid date/time (ISO 8601 or epoch milliseconds).`);
      }
      break;
    case "enumeration": {
      const options = Options.parse((def as { options?: unknown }).options ?? []).map((o) => o.value);
      const values = def.fieldType === "checkbox" ? value.replace(/^;/, "").split(";").filter((v) => v !== "") : [value];
      const bad = values.find((v) => !options.includes(v));
      // Record-id lists (hs_merged_object_ids) and the like have no fixed options.
      if (bad !== undefined && options.length > 0) return problem("INVALID_OPTION", `${bad} was not one of the allowed options: [${options.join(", ")}]`);
      break;
    }
    default:
      if (value.length > MAX_STRING) return problem("INVALID_LENGTH", `Property ${name} is longer than ${MAX_STRING} characters.`);
      if (objectType === "contacts" && name === "email" && !EMAIL.test(text)) return problem("INVALID_EMAIL", `Email address ${value} is invalid`);
  }
  return null;
}

export function checkProperties(objectType: string, defs: PropertyDef[], properties: Record<string, string>): Problem[] {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const out: Problem[] = [];
  for (const [name, value] of Object.entries(properties)) {
    const p = checkValue(objectType, byName.get(name), name, value);
    if (p) out.push(p);
  }
  return out;
}

/**
 * Definitions rarely change and every push needs them: each client keeps them per object type this
 * long. A problem found with a kept copy makes the caller read them again at once, so a property or
 * option added in HubSpot meanwhile never gets a change refused.
 */
const DEFINITIONS_TTL_MS = 5 * 60 * 1000;
const definitionCache = new WeakMap<HubSpotApi, Map<string, { at: number; defs: PropertyDef[] }>>();

/** The object type's property definitions (the properties API), kept per client for a few minutes. */
export async function propertyDefinitions(api: HubSpotApi, objectType: string, opts: { fresh?: boolean } = {}): Promise<{ defs: PropertyDef[]; fresh: boolean }> {
  let cache = definitionCache.get(api);
  if (!cache) definitionCache.set(api, (cache = new Map()));
  const hit = cache.get(objectType);
  if (hit && !opts.fresh && Date.now() - hit.at < DEFINITIONS_TTL_MS) return { defs: hit.defs, fresh: false };
  const at = Date.now();
  const defs = await api.properties(objectType);
  cache.set(objectType, { at, defs });
  return { defs, fresh: true };
}

/**
 * The problems of each change (by key) that HubSpot's property rules would refuse; changes without
 * problems are absent. Definitions are read at most twice: kept ones first, current ones when
 * those found anything.
 */
export async function findProblems(api: HubSpotApi, objectType: string, changes: Array<{ key: string; properties: Record<string, string> }>): Promise<Map<string, Problem[]>> {
  const out = new Map<string, Problem[]>();
  const withValues = changes.filter((c) => Object.keys(c.properties).length > 0);
  if (withValues.length === 0) return out;
  let { defs, fresh } = await propertyDefinitions(api, objectType);
  const check = () => {
    out.clear();
    for (const c of withValues) {
      const problems = checkProperties(objectType, defs, c.properties);
      if (problems.length > 0) out.set(c.key, problems);
    }
  };
  check();
  if (out.size > 0 && !fresh) {
    ({ defs } = await propertyDefinitions(api, objectType, { fresh: true }));
    check();
  }
  return out;
}
