import { buildProperty } from "./default-properties.ts";
import { Prng } from "./prng.ts";
import type { PropertyType, Store } from "./store.ts";

/**
 * Property catalogs the size of a real portal's. A fresh HubSpot portal carries several hundred
 * HubSpot-defined properties on contacts (about 370: analytics, email, sales activity, lifecycle
 * stage timings…) and hundreds on companies and deals; mature portals add hundreds of their own.
 * A sync's cost depends on that width (a GET URL carrying every name, a search body, a batch read),
 * so the bench, the soak and the demo run against catalogs of that size.
 *
 * The names are generated, deterministically per type, from words of the kind HubSpot's own
 * names are made of, to about the same length (a contact catalog's `properties=` query comes to
 * about 13,000 characters); they are not HubSpot's list. The generated properties are read-only,
 * as most of HubSpot's calculated ones are, and records carry no values for them.
 */

/** Total properties per type in a realistic catalog (the built-in ones included). */
export const REALISTIC_CATALOG: Readonly<Record<string, number>> = { contacts: 370, companies: 250, deals: 220, tickets: 150 };

export interface CatalogOptions {
  /** Grow the standard types to the sizes of REALISTIC_CATALOG. */
  realistic: boolean;
  /** Portal-defined (custom) properties added to contacts, companies and deals each. */
  custom: number;
}

const AREAS = ["analytics", "email", "sales", "social", "marketing", "lifecycle", "lead", "sequence", "conversion", "predictive", "document", "latest", "first", "recent", "time_in", "date_entered", "date_exited", "cumulative_time_in", "engagement", "feedback"];
const SUBJECTS = ["source", "campaign", "page", "visit", "session", "click", "open", "bounce", "reply", "meeting", "call", "form", "deal", "ticket", "subscriber", "opportunity", "customer", "evangelist", "salesqualifiedlead", "marketingqualifiedlead", "touch_converting", "outreach", "chat", "survey"];
const DETAILS = ["date", "count", "value", "type", "id", "timestamp", "url", "data_1", "data_2", "score", "status", "reason", "label", "amount", "first_seen", "last_seen", "average", "percentage"];
const CUSTOM_WORDS = ["region", "segment", "tier", "partner", "contract", "renewal", "territory", "account", "plan", "channel", "priority", "industry", "budget", "quota", "churn", "health"];

function typeOfDetail(detail: string): PropertyType {
  if (/date|timestamp|seen/.test(detail)) return "datetime";
  if (/count|value|score|amount|average|percentage/.test(detail)) return "number";
  if (/status|type|reason/.test(detail)) return "enumeration";
  return "string";
}

/** A stable seed per type name, so each type gets its own names. */
function seedOf(name: string): number {
  let h = 7;
  for (const c of name) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  return h;
}

function addTo(store: Store, typeName: string, options: CatalogOptions): void {
  const type = store.resolveType(typeName);
  if (!type) return;
  const state = store.typeState(type);
  const rng = new Prng(seedOf(typeName));
  const epoch = new Date(0).toISOString();
  const want = options.realistic ? (REALISTIC_CATALOG[typeName] ?? 0) : 0;
  for (let guard = 0; state.properties.size < want && guard < 100_000; guard++) {
    const detail = DETAILS[rng.int(0, DETAILS.length - 1)]!;
    const name = `hs_${AREAS[rng.int(0, AREAS.length - 1)]}_${SUBJECTS[rng.int(0, SUBJECTS.length - 1)]}_${detail}`;
    if (state.properties.has(name)) continue;
    const valueType = typeOfDetail(detail);
    const spec = { name, type: valueType, readOnly: true, calculated: true, ...(valueType === "enumeration" ? { options: ["none", "pending", "complete", "other"] } : {}) };
    state.properties.set(name, buildProperty(spec, `${type.singular}information`, true, epoch));
  }
  if (!["contacts", "companies", "deals"].includes(typeName)) return;
  for (let i = 0; i < options.custom; i++) {
    const name = `${CUSTOM_WORDS[i % CUSTOM_WORDS.length]}_${CUSTOM_WORDS[(i * 7 + 3) % CUSTOM_WORDS.length]}_${i}`;
    if (!state.properties.has(name)) store.createProperty(type, { name, type: "string" });
  }
}

/** Adds the catalog to the portal now and again after every reset of the portal. */
export function installCatalog(store: Store, options: CatalogOptions): void {
  if (!options.realistic && options.custom <= 0) return;
  const apply = () => {
    for (const name of Object.keys(REALISTIC_CATALOG)) addTo(store, name, options);
  };
  apply();
  store.on("reset", apply);
}
