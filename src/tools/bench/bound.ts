import { defaultConfig } from "../../simulator/config.ts";
import type { Store } from "../../simulator/store.ts";
import { SEARCH_BODY_LIMIT } from "../../core/pull/portal-limits.ts";

/**
 * The most records per second HubSpot's published limits let any client copy from this portal,
 * through every channel that can carry the catalog's properties:
 * - list pages and batch reads share the 10-second limit (100 per 10 s free/starter, 190
 *   pro/enterprise) and carry at most 100 records a call; a batch read takes its property names in a
 *   POST body, so this channel carries any catalog;
 * - search has its own limit (5 requests a second per account) and carries 200 records a page, but
 *   its body is capped at 3,000 characters: it carries a type's records only when the names of all
 *   its properties fit in that body (or when the portal does not count the property list, which
 *   HubSpot does not say; the simulator counts it by default, the stricter reading).
 * Records of types search cannot carry go through the general channel only, so the bound is
 * min(all records ÷ the time they need at general + search, records ÷ the time the general-only
 * records need at general).
 */
export interface Channel {
  name: string;
  /** HubSpot's published limit, as a sentence. */
  limit: string;
  callsPerSecond: number;
  recordsPerCall: number;
  /** callsPerSecond × recordsPerCall. */
  recordsPerSecond: number;
  /** The synced types whose full property list this channel can carry. */
  carries: string[];
  /** Why a type is left out (the search body's cap). */
  notes: string[];
}

export interface Bound {
  boundRecordsPerSecond: number;
  channels: Channel[];
  /** The computation, in words and numbers, for results.md. */
  arithmetic: string;
}

/** Records per call of HubSpot's list/batch endpoints. */
export const RECORDS_PER_CALL = 100;
/** HubSpot's search limit per account, and its page size. */
export const SEARCH_PER_SECOND = 5;
export const SEARCH_PAGE = 200;
/** A search body's filters, sort, limit and cursor around the property list (one id range): what the cap leaves for names. */
const SEARCH_BODY_OVERHEAD = JSON.stringify({
  filterGroups: [{ filters: [{ propertyName: "hs_object_id", operator: "GT", value: "9007199254740991" }, { propertyName: "hs_object_id", operator: "LT", value: "9007199254740991" }] }],
  sorts: [{ propertyName: "hs_object_id", direction: "ASCENDING" }],
  properties: [],
  limit: 200,
  after: "10000",
}).length;

const int = (n: number) => Math.round(n).toLocaleString("en-US");

export function backfillBound(limitPer10s: number, store: Store, types: string[], capCountsProperties = defaultConfig().searchCapCountsProperties): Bound {
  const general: Channel = {
    name: "list pages and batch reads",
    limit: `${limitPer10s} requests per 10 s (shared)`,
    callsPerSecond: limitPer10s / 10,
    recordsPerCall: RECORDS_PER_CALL,
    recordsPerSecond: (limitPer10s / 10) * RECORDS_PER_CALL,
    carries: [...types],
    notes: [],
  };
  const search: Channel = {
    name: "search",
    limit: `${SEARCH_PER_SECOND} requests per second`,
    callsPerSecond: SEARCH_PER_SECOND,
    recordsPerCall: SEARCH_PAGE,
    recordsPerSecond: SEARCH_PER_SECOND * SEARCH_PAGE,
    carries: [],
    notes: [],
  };
  let all = 0;
  let generalOnly = 0;
  for (const name of types) {
    const type = store.resolveType(name);
    if (!type) continue;
    const records = store.recordList(type, false).length;
    all += records;
    const names = store.propertyDefinitions(type).map((p) => p.name);
    const chars = JSON.stringify(names).length - 2 + SEARCH_BODY_OVERHEAD;
    if (!capCountsProperties || chars <= SEARCH_BODY_LIMIT) search.carries.push(name);
    else {
      generalOnly += records;
      search.notes.push(`${name}: ${names.length} property names make a ${int(chars)}-character search body (cap ${int(SEARCH_BODY_LIMIT)})`);
    }
  }
  const both = general.recordsPerSecond + search.recordsPerSecond;
  const bound = generalOnly > 0 && all > 0 ? Math.min(both, (all * general.recordsPerSecond) / generalOnly) : both;
  const parts = [
    `${general.name}: ${int(limitPer10s)} per 10 s × ${RECORDS_PER_CALL} records = ${int(general.recordsPerSecond)} records/s (any catalog: batch read takes the names in a POST body)`,
    `${search.name}: ${SEARCH_PER_SECOND}/s × ${SEARCH_PAGE} records = ${int(search.recordsPerSecond)} records/s` +
      (search.notes.length ? `, for ${search.carries.length ? search.carries.join(", ") : "none of the synced types"} — ${search.notes.join("; ")}` : ", every synced type"),
    generalOnly === 0
      ? `bound = ${int(general.recordsPerSecond)} + ${int(search.recordsPerSecond)} = ${int(bound)} records/s`
      : generalOnly === all
        ? `bound = ${int(general.recordsPerSecond)} records/s (search can carry none of the synced types' property lists)`
        : `bound = min(${int(both)}, ${int(all)} records × ${int(general.recordsPerSecond)}/s ÷ ${int(generalOnly)} records search cannot carry) = ${int(bound)} records/s`,
  ];
  return { boundRecordsPerSecond: bound, channels: [general, search], arithmetic: parts.join("; ") };
}
