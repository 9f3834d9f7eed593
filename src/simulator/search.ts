import { z } from "zod";
import { validationError } from "./http-errors.ts";
import type { ObjectTypeDef } from "./object-types.ts";
import { parseBody, requireType } from "./objects-routes.ts";
import { limitParam } from "./params.ts";
import type { Router, SimContext, SimRequest, SimResponse } from "./router.ts";
import { serializeRecord } from "./serialize.ts";
import type { PropertyDefinition, SearchView, Store } from "./store.ts";
import { parseTimestamp } from "./validation.ts";
import { associationsOf } from "./associations.ts";
import { documentOf, shortPage, staleViews } from "./search-faults.ts";

/**
 * POST /crm/v3/objects/{type}/search (reference §2.6): filter groups (OR of ANDs), one sort,
 * offset paging capped at 10,000 results, 3,000-character bodies, archived records never
 * returned, and an index that lags writes by `indexLagMs`. Range filters on the last-modified
 * property or hs_object_id are answered from sorted indexes, so incremental pulls over large
 * portals stay O(log n + page).
 */

const MAX_GROUPS = 5;
const MAX_FILTERS_PER_GROUP = 6;
const MAX_FILTERS = 18;
const MAX_RESULTS = 10_000;
const MAX_BODY = 3_000;

const OPERATORS = ["EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"] as const;
type Operator = (typeof OPERATORS)[number];

const Filter = z.object({
  propertyName: z.string(),
  operator: z.enum(OPERATORS),
  value: z.union([z.string(), z.number(), z.boolean()]).transform(String).optional(),
  highValue: z.union([z.string(), z.number()]).transform(String).optional(),
  values: z.array(z.union([z.string(), z.number()]).transform(String)).optional(),
});
type FilterInput = z.infer<typeof Filter>;

const Sort = z.union([
  z.string(),
  z.object({ propertyName: z.string(), direction: z.enum(["ASCENDING", "DESCENDING"]).default("ASCENDING") }),
]);

const SearchBody = z.object({
  filterGroups: z.array(z.object({ filters: z.array(Filter) })).default([]),
  sorts: z.array(Sort).default([]),
  query: z.string().optional(),
  properties: z.array(z.string()).optional(),
  limit: z.union([z.number(), z.string()]).optional(),
  after: z.union([z.string(), z.number()]).transform(String).optional(),
});

type Kind = "number" | "time" | "bool" | "enum" | "string";

interface Compiled {
  name: string;
  op: Operator;
  kind: Kind;
  test: (v: SearchView) => boolean;
}

function kindOf(def: PropertyDefinition | undefined, name: string, type: ObjectTypeDef): Kind {
  if (name === "hs_object_id") return "number";
  if (name === type.lastModifiedProperty || name === type.createdProperty) return "time";
  if (!def) return "string";
  switch (def.type) {
    case "number":
      return "number";
    case "date":
    case "datetime":
      return "time";
    case "bool":
      return "bool";
    case "enumeration":
      return "enum";
    default:
      return "string";
  }
}

/** The value search compares, in a comparable form (numbers for numbers and times). */
function accessor(type: ObjectTypeDef, name: string, kind: Kind): (v: SearchView) => string | number | undefined {
  if (name === "hs_object_id") return (v) => v.idNum;
  if (name === type.lastModifiedProperty) return (v) => v.updatedAt;
  if (name === type.createdProperty) return (v) => v.createdAt;
  if (kind === "number") {
    return (v) => {
      const s = v.properties[name];
      return s === undefined ? undefined : Number(s);
    };
  }
  if (kind === "time") {
    return (v) => {
      const s = v.properties[name];
      return s === undefined ? undefined : parseTimestamp(s);
    };
  }
  return (v) => v.properties[name];
}

function operand(kind: Kind, raw: string | undefined, filter: FilterInput): string | number {
  if (raw === undefined) throw validationError(`Filter on ${filter.propertyName} with operator ${filter.operator} needs a value`);
  if (kind === "number") {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw validationError(`${raw} is not a valid number for ${filter.propertyName}`);
    return n;
  }
  if (kind === "time") {
    const ms = parseTimestamp(raw);
    if (ms === undefined) throw validationError(`${raw} is not a valid date for ${filter.propertyName}`);
    return ms;
  }
  if (kind === "bool") return raw.toLowerCase();
  // Enumerations are case-sensitive; other strings compare case-insensitively.
  return kind === "enum" ? raw : raw.toLowerCase();
}

function tokenMatcher(pattern: string): (s: string) => boolean {
  const p = pattern.toLowerCase();
  if (!p.includes("*")) {
    return (s) => {
      const l = s.toLowerCase();
      return l === p || l.split(/[^\p{L}\p{N}_]+/u).includes(p);
    };
  }
  const re = new RegExp(`^${p.split("*").map((x) => x.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`, "i");
  return (s) => re.test(s) || s.split(/\s+/).some((t) => re.test(t));
}

/** `associations.<type>` pseudo-property: records associated with the given record id(s). */
function compileAssociation(store: Store, type: ObjectTypeDef, f: FilterInput): Compiled {
  const otherRef = f.propertyName.slice("associations.".length);
  const other = store.resolveType(otherRef);
  if (!other) throw validationError(`Unknown association type in ${f.propertyName}`);
  if (f.operator !== "EQ" && f.operator !== "IN") throw validationError(`Operator ${f.operator} is not supported on ${f.propertyName}`);
  const ids = f.operator === "EQ" ? [f.value ?? ""] : (f.values ?? []);
  const assoc = associationsOf(store);
  const linked = new Set<number>();
  for (const id of ids) {
    for (const t of assoc.page(other.objectTypeId, Number(id), type.objectTypeId, { limit: Number.MAX_SAFE_INTEGER }).results) linked.add(t.toObjectId);
  }
  return { name: f.propertyName, op: f.operator, kind: "number", test: (v) => linked.has(v.idNum) };
}

function compile(store: Store, type: ObjectTypeDef, f: FilterInput): Compiled {
  if (f.propertyName.startsWith("associations.")) return compileAssociation(store, type, f);
  const def = store.property(type, f.propertyName);
  const kind = kindOf(def, f.propertyName, type);
  const get = accessor(type, f.propertyName, kind);
  const multi = def?.fieldType === "checkbox";
  const norm = (x: string | number): string | number => (typeof x === "number" || kind === "enum" ? x : x.toLowerCase());
  const has = (v: SearchView): boolean => get(v) !== undefined;
  const eqTo = (target: string | number) => (v: SearchView): boolean => {
    const x = get(v);
    if (x === undefined) return false;
    if (multi && typeof x === "string") return x.split(";").includes(String(target));
    return norm(x) === target;
  };
  const cmp = (pred: (x: string | number) => boolean) => (v: SearchView): boolean => {
    const x = get(v);
    return x !== undefined && !(typeof x === "number" && Number.isNaN(x)) && pred(norm(x));
  };
  let test: (v: SearchView) => boolean;
  switch (f.operator) {
    case "EQ": test = eqTo(operand(kind, f.value, f)); break;
    case "NEQ": { const eq = eqTo(operand(kind, f.value, f)); test = (v) => !eq(v); break; }
    case "LT": { const t = operand(kind, f.value, f); test = cmp((x) => x < t); break; }
    case "LTE": { const t = operand(kind, f.value, f); test = cmp((x) => x <= t); break; }
    case "GT": { const t = operand(kind, f.value, f); test = cmp((x) => x > t); break; }
    case "GTE": { const t = operand(kind, f.value, f); test = cmp((x) => x >= t); break; }
    case "BETWEEN": {
      const lo = operand(kind, f.value, f);
      const hi = operand(kind, f.highValue, f);
      test = cmp((x) => x >= lo && x <= hi);
      break;
    }
    case "IN":
    case "NOT_IN": {
      if (!f.values?.length) throw validationError(`Filter on ${f.propertyName} with operator ${f.operator} needs values`);
      // IN on strings matches lowercase values only (the documented gotcha): values are not folded.
      const set = new Set(f.values.map((x) => (kind === "number" || kind === "time" ? operand(kind, x, f) : x)));
      const inSet = (v: SearchView): boolean => {
        const x = get(v);
        if (x === undefined) return false;
        if (multi && typeof x === "string") return x.split(";").some((p) => set.has(p));
        return set.has(kind === "string" && typeof x === "string" ? x.toLowerCase() : x);
      };
      test = f.operator === "IN" ? inSet : (v) => !inSet(v);
      break;
    }
    case "HAS_PROPERTY": test = has; break;
    case "NOT_HAS_PROPERTY": test = (v) => !has(v); break;
    case "CONTAINS_TOKEN":
    case "NOT_CONTAINS_TOKEN": {
      if (f.value === undefined) throw validationError(`Filter on ${f.propertyName} with operator ${f.operator} needs a value`);
      const m = tokenMatcher(f.value);
      const contains = (v: SearchView): boolean => {
        const x = get(v);
        return x !== undefined && m(String(x));
      };
      test = f.operator === "CONTAINS_TOKEN" ? contains : (v) => !contains(v);
      break;
    }
  }
  return { name: f.propertyName, op: f.operator, kind, test };
}

/** [lo, hi] (inclusive, ms or id) a group allows on one indexed property; undefined if unconstrained. */
function rangeOf(filters: FilterInput[], name: string, kind: "time" | "number"): { lo: number; hi: number; exact: boolean } | undefined {
  let lo = -Infinity;
  let hi = Infinity;
  let found = false;
  let exact = true;
  for (const f of filters) {
    if (f.propertyName !== name) {
      exact = false;
      continue;
    }
    const val = (raw: string | undefined): number => operand(kind, raw, f) as number;
    switch (f.operator) {
      case "EQ": { const t = val(f.value); lo = Math.max(lo, t); hi = Math.min(hi, t); found = true; break; }
      case "GT": lo = Math.max(lo, Math.floor(val(f.value)) + 1); found = true; break;
      case "GTE": lo = Math.max(lo, Math.ceil(val(f.value))); found = true; break;
      case "LT": hi = Math.min(hi, Math.ceil(val(f.value)) - 1); found = true; break;
      case "LTE": hi = Math.min(hi, Math.floor(val(f.value))); found = true; break;
      case "BETWEEN": lo = Math.max(lo, Math.ceil(val(f.value))); hi = Math.min(hi, Math.floor(val(f.highValue))); found = true; break;
      default: exact = false;
    }
  }
  return found ? { lo, hi, exact } : undefined;
}

interface SortSpec {
  name: string;
  desc: boolean;
}

function parseSort(sorts: z.infer<typeof Sort>[]): SortSpec | null {
  if (sorts.length > 1) throw validationError("Only one sort is supported per search");
  const s = sorts[0];
  if (s === undefined) return null;
  if (typeof s === "string") return s.startsWith("-") ? { name: s.slice(1), desc: true } : { name: s, desc: false };
  return { name: s.propertyName, desc: s.direction === "DESCENDING" };
}

export interface SearchResult {
  total: number;
  views: SearchView[];
  nextAfter: number | null;
}

/** The search itself, on the store (also used by tests of performance through the HTTP route). */
export function runSearch(store: Store, type: ObjectTypeDef, body: z.infer<typeof SearchBody>, limit: number, offset: number): SearchResult {
  const groups = body.filterGroups.filter((g) => g.filters.length > 0);
  const compiled = groups.map((g) => g.filters.map((f) => compile(store, type, f)));
  const sort = parseSort(body.sorts);
  const queryTest = body.query ? queryMatcher(store, type, body.query) : null;
  const lagging = store.laggingViews(type);
  const stale = staleViews(store, type);

  // Candidate source: a sorted index when every group bounds one indexed property.
  const lm = type.lastModifiedProperty;
  const lmRanges = groups.map((g) => rangeOf(g.filters, lm, "time"));
  const idRanges = groups.map((g) => rangeOf(g.filters, "hs_object_id", "number"));
  let source: { list: readonly SearchView[]; start: number; end: number; order: "modified" | "id"; exact: boolean };
  if (groups.length > 0 && lmRanges.every(Boolean)) {
    const lo = Math.min(...lmRanges.map((r) => r!.lo));
    const hi = Math.max(...lmRanges.map((r) => r!.hi));
    source = { ...store.modifiedRange(type, lo, hi), order: "modified", exact: groups.length === 1 && lmRanges[0]!.exact };
  } else if (groups.length > 0 && idRanges.every(Boolean)) {
    const lo = Math.min(...idRanges.map((r) => r!.lo));
    const hi = Math.max(...idRanges.map((r) => r!.hi));
    source = { ...store.idRange(type, lo, hi), order: "id", exact: groups.length === 1 && idRanges[0]!.exact };
  } else {
    const list = store.recordList(type, false);
    source = { list, start: 0, end: list.length, order: "id", exact: groups.length === 0 };
  }

  const wantOrder: "modified" | "id" | "other" =
    !sort || sort.name === "hs_object_id" ? "id" : sort.name === lm ? "modified" : "other";
  const desc = sort?.desc ?? false;
  const cap = Math.min(offset + limit, MAX_RESULTS);

  // Fast path: the index range is exactly the answer, in the requested order.
  if (source.exact && !queryTest && lagging.size === 0 && stale.length === 0 && wantOrder === source.order) {
    const total = source.end - source.start;
    const views: SearchView[] = [];
    for (let i = offset; i < cap && i < total; i++) views.push(source.list[desc ? source.end - 1 - i : source.start + i]!);
    return { total, views, nextAfter: cap < total && cap < MAX_RESULTS ? cap : null };
  }

  const matches = (v: SearchView): boolean =>
    (compiled.length === 0 || compiled.some((g) => g.every((f) => f.test(v)))) && (!queryTest || queryTest(v));
  const found: SearchView[] = [];
  for (let i = source.start; i < source.end; i++) {
    const v = source.list[i]!;
    if (lagging.size && lagging.has(v.id)) continue;
    if (matches(v)) found.push(v);
  }
  let inOrder = wantOrder === source.order;
  for (const view of [...lagging.values(), ...stale]) {
    if (view && matches(view)) {
      found.push(view);
      inOrder = false;
    }
  }
  if (!inOrder) found.sort(comparator(store, type, sort));
  else if (desc) found.reverse();
  const total = found.length;
  const views = found.slice(offset, cap);
  return { total, views, nextAfter: cap < total && cap < MAX_RESULTS ? cap : null };
}

function comparator(store: Store, type: ObjectTypeDef, sort: SortSpec | null): (a: SearchView, b: SearchView) => number {
  if (!sort) return (a, b) => a.idNum - b.idNum;
  const kind = kindOf(store.property(type, sort.name), sort.name, type);
  const get = accessor(type, sort.name, kind);
  const dir = sort.desc ? -1 : 1;
  return (a, b) => {
    const x = get(a);
    const y = get(b);
    if (x === undefined || y === undefined) {
      if (x === y) return a.idNum - b.idNum;
      return x === undefined ? 1 : -1;
    }
    const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return c !== 0 ? c * dir : (a.idNum - b.idNum) * dir;
  };
}

/** `query`: a token search over the type's default text properties. */
function queryMatcher(store: Store, type: ObjectTypeDef, query: string): (v: SearchView) => boolean {
  const names = [...new Set([...type.defaultProperties, ...type.searchableProperties, "phone", "domain", "website", "company"])].filter((n) => {
    const def = store.property(type, n);
    return def && (def.type === "string" || def.type === "phone_number");
  });
  const q = query.toLowerCase();
  return (v) => names.some((n) => v.properties[n]?.toLowerCase().includes(q));
}

function search(req: SimRequest, ctx: SimContext): SimResponse {
  if (req.bodyLength > MAX_BODY) {
    throw validationError(`The request body is too long: ${req.bodyLength} characters, at most ${MAX_BODY} are allowed.`);
  }
  const type = requireType(ctx.store, req.params.objectType!);
  const body = parseBody(SearchBody, req.body);
  const nFilters = body.filterGroups.reduce((n, g) => n + g.filters.length, 0);
  if (body.filterGroups.length > MAX_GROUPS || body.filterGroups.some((g) => g.filters.length > MAX_FILTERS_PER_GROUP) || nFilters > MAX_FILTERS) {
    throw validationError(
      `Too many filters: at most ${MAX_GROUPS} filterGroups with up to ${MAX_FILTERS_PER_GROUP} filters each and ${MAX_FILTERS} filters in total are allowed (got ${body.filterGroups.length} groups, ${nFilters} filters).`,
    );
  }
  const limit = limitParam(body.limit ?? null, 10, 200, ctx.config.clampLimits);
  const offset = body.after === undefined || body.after === "" ? 0 : Number(body.after);
  if (!Number.isInteger(offset) || offset < 0) throw validationError(`after must be an integer offset, got ${body.after}`);
  if (offset >= MAX_RESULTS) {
    throw validationError(`Paging beyond ${MAX_RESULTS} results is not supported: after=${offset}. Narrow the query (e.g. a later ${type.lastModifiedProperty} bound) instead.`);
  }
  const result = runSearch(ctx.store, type, body, limit, offset);
  if (result.views.length > 1 && ctx.config.faults.searchShortPageRate > 0 && ctx.random() < ctx.config.faults.searchShortPageRate) {
    Object.assign(result, shortPage(result.views, offset, ctx.random));
  }
  const results = result.views.map((v) =>
    serializeRecord(ctx.store, type, documentOf(v), { properties: body.properties ?? null, emptyAs: ctx.config.emptyProperties, withArchiveFields: false }),
  );
  const out: Record<string, unknown> = { total: result.total, results };
  if (result.nextAfter !== null) out.paging = { next: { after: String(result.nextAfter) } };
  return { status: 200, body: out };
}

export function registerSearchRoutes(router: Router): void {
  router.route("POST", "/crm/v3/objects/{objectType}/search", search, { rateClass: "search" });
}
