import { HubSpotError, notFound, validationError } from "./http-errors.ts";
import { boolParam, limitParam, listParam } from "./params.ts";
import type { Router, SimContext, SimRequest, SimResponse } from "./router.ts";
import { PROCESSING_TYPES, type FilterBranch, type ListsState, type ProcessingType, type SimList } from "./lists.ts";

/**
 * The Lists (segments) API: `/crm/lists/{v}/…` for the dated versions and `/crm/v3/lists/…`.
 *
 * - `GET /` (listIds, includeFilters) → `{lists}`; `POST /` creates → `{list}` (200, not 201).
 * - `POST /search` (query, offset, count ≤ 500, default 20) → `{lists, hasMore, offset, total}`,
 *   each list with `additionalProperties` (hs_list_size, hs_last_record_added_at,
 *   hs_last_record_removed_at as strings, times in epoch ms).
 * - `POST /all` (2026-09 only): every list in ascending id order, paged with an `after` cursor →
 *   `{results, paging.next.after, total}`.
 * - `GET /{listId}`, `DELETE /{listId}` (204; restorable), `PUT /{listId}/restore` (204),
 *   `PUT /{listId}/update-list-name?listName=`, `PUT /{listId}/update-list-filters` → `{updatedList}`,
 *   `GET /object-type-id/{objectTypeId}/name/{listName}` (name not case sensitive).
 * - `GET /{listId}/memberships` (by record id) and `/memberships/join-order` (by join time): limit
 *   ≤ 250 (default 100), `after` pages forwards, `before` alone pages backwards (descending), `after`
 *   wins when both are given → `{results: [{recordId, membershipTimestamp}], paging, total}`.
 * - `PUT /{listId}/memberships/add` and `/remove` (a JSON array of record ids) and
 *   `/add-and-remove` (`{recordIdsToAdd, recordIdsToRemove}`) → `{recordsIdsAdded, recordIdsRemoved,
 *   recordIdsMissing}` (HubSpot's spelling of `recordsIdsAdded`). Only MANUAL and SNAPSHOT lists;
 *   ids that are no record of the list's type are `missing`; members already there, or not there
 *   to remove, are ignored. `DELETE /{listId}/memberships` empties a MANUAL or SNAPSHOT list.
 */

const BASES = [
  { base: "/crm/v3/lists", all: false },
  { base: "/crm/lists/2025-09", all: false },
  { base: "/crm/lists/2026-03", all: false },
  { base: "/crm/lists/2026-09", all: true },
];

/** HubSpot does not publish a cap on ids per membership call; this one keeps a request bounded. */
export const MAX_MEMBERSHIP_IDS = 100_000;

const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());

function listJson(l: SimList, includeFilters: boolean) {
  return {
    listId: l.listId,
    listVersion: l.listVersion,
    name: l.name,
    objectTypeId: l.objectTypeId,
    processingStatus: "COMPLETE",
    processingType: l.processingType,
    createdAt: iso(l.createdAt),
    updatedAt: iso(l.updatedAt),
    filtersUpdatedAt: iso(l.filtersUpdatedAt),
    deletedAt: iso(l.deletedAt),
    size: l.members.size,
    ...(includeFilters && l.filterBranch ? { filterBranch: l.filterBranch } : {}),
  };
}

function searchJson(l: SimList) {
  const extra: Record<string, string> = { hs_list_size: String(l.members.size), hs_list_reference_count: "0" };
  if (l.lastRecordAddedAt !== null) extra.hs_last_record_added_at = String(l.lastRecordAddedAt);
  if (l.lastRecordRemovedAt !== null) extra.hs_last_record_removed_at = String(l.lastRecordRemovedAt);
  const { size: _size, ...rest } = listJson(l, false);
  return { ...rest, additionalProperties: extra };
}

function body(req: SimRequest): Record<string, unknown> {
  if (req.body === undefined || req.body === null) return {};
  if (typeof req.body !== "object" || Array.isArray(req.body)) throw validationError("The request body must be a JSON object");
  return req.body as Record<string, unknown>;
}

function stringArray(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string" && typeof x !== "number")) throw validationError(`${field} must be an array of strings`);
  return v.map(String);
}

function intField(v: unknown, field: string, fallback: number, max: number): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw validationError(`${field} must be a non-negative integer`);
  if (v > max) throw validationError(`${field} must be no more than ${max}, got ${v}`);
  return v;
}

function live(lists: ListsState, listId: string): SimList {
  const l = lists.get(listId);
  if (!l || l.deletedAt !== null) throw notFound(`List ${listId} does not exist`, { listId: [listId] });
  return l;
}

function writable(l: SimList): void {
  if (l.processingType === "DYNAMIC") {
    throw new HubSpotError(400, "VALIDATION_ERROR", `List ${l.listId} is a DYNAMIC list: its memberships follow its filters and cannot be changed by hand`, {
      subCategory: "ILS_LIST_PROCESSING_TYPE_NOT_SUPPORTED",
      context: { listId: [l.listId], processingType: [l.processingType] },
    });
  }
}

function objectTypeOf(ctx: SimContext, ref: string): string {
  const type = ctx.store.resolveType(ref);
  if (!type) throw validationError(`Unknown objectTypeId ${ref}`, { context: { objectTypeId: [ref] } });
  return type.objectTypeId;
}

function filterBranchOf(v: unknown): FilterBranch {
  if (!v || typeof v !== "object" || Array.isArray(v) || typeof (v as FilterBranch).filterBranchType !== "string") {
    throw validationError("filterBranch must be an object with a filterBranchType (OR at the root, AND below)");
  }
  return v as FilterBranch;
}

/** Cursors: base64url of the last position served ("<joinedAt>:<recordId>" or "<recordId>"). */
const encode = (s: string) => Buffer.from(s).toString("base64url");
function decode(token: string): string {
  const text = Buffer.from(token, "base64url").toString("utf8");
  if (!/^\d+(:\d+)?$/.test(text)) throw validationError(`Invalid paging cursor ${token}`);
  return text;
}

function memberships(lists: ListsState, byJoin: boolean) {
  return (req: SimRequest, ctx: SimContext): SimResponse => {
    const l = live(lists, req.params.listId!);
    const limit = limitParam(req.query.get("limit"), 100, 250, ctx.config.clampLimits);
    const keyOf = (m: { recordId: string; joinedAt: number }) => (byJoin ? `${m.joinedAt}:${m.recordId}` : m.recordId);
    const cmp = (a: string, b: string) => {
      const [a1, a2 = "0"] = a.split(":").map(Number);
      const [b1, b2 = "0"] = b.split(":").map(Number);
      return a1! - b1! || Number(a2) - Number(b2);
    };
    const ordered = (byJoin ? lists.joinOrder(l) : lists.joinOrder(l).sort((a, b) => Number(a.recordId) - Number(b.recordId))).map((m) => ({ ...m, key: keyOf(m) }));
    const after = req.query.get("after");
    const before = req.query.get("before");
    let page: typeof ordered;
    let more: boolean;
    if (after || !before) {
      const from = after ? decode(after) : null;
      const rest = from ? ordered.filter((m) => cmp(m.key, from) > 0) : ordered;
      page = rest.slice(0, limit);
      more = rest.length > limit;
    } else {
      const to = decode(before);
      const rest = ordered.filter((m) => cmp(m.key, to) < 0).reverse();
      page = rest.slice(0, limit);
      more = rest.length > limit;
    }
    const out: Record<string, unknown> = {
      results: page.map((m) => ({ recordId: m.recordId, membershipTimestamp: new Date(m.joinedAt).toISOString() })),
      total: ordered.length,
    };
    const last = page[page.length - 1];
    if (more && last) out.paging = after || !before ? { next: { after: encode(last.key) } } : { prev: { before: encode(last.key) } };
    return { status: 200, body: out };
  };
}

function membershipAnswer(added: string[], removed: string[], missing: string[]) {
  return { status: 200, body: { recordsIdsAdded: added, recordIdsRemoved: removed, recordIdsMissing: missing } };
}

/** Changes a list's members: ids that are no live record of the list's type are reported missing. */
function change(lists: ListsState, ctx: SimContext, l: SimList, toAdd: string[], toRemove: string[]): SimResponse {
  writable(l);
  if (toAdd.length + toRemove.length > MAX_MEMBERSHIP_IDS) throw validationError(`At most ${MAX_MEMBERSHIP_IDS} record ids per request`);
  const type = ctx.store.resolveType(l.objectTypeId)!;
  const exists = (id: string) => {
    const r = ctx.store.getRecord(type, id);
    return r !== undefined && !r.archived;
  };
  const missing = [...new Set([...toAdd, ...toRemove].filter((id) => !exists(id)))];
  const removed = lists.remove(l, toRemove.filter(exists));
  const added = lists.add(l, ...toAdd.filter(exists));
  return membershipAnswer(added, removed, missing);
}

function recordIdsBody(req: SimRequest): string[] {
  if (!Array.isArray(req.body)) throw validationError("The request body must be a JSON array of record ids");
  return stringArray(req.body, "body");
}

export function registerListRoutes(router: Router, lists: ListsState): void {
  for (const { base, all } of BASES) {
    router.route("GET", base, (req) => {
      const ids = listParam(req.query, "listIds") ?? [];
      const includeFilters = boolParam(req.query, "includeFilters");
      const found = ids.map((id) => lists.get(id)).filter((l): l is SimList => l !== undefined);
      return { status: 200, body: { lists: found.map((l) => listJson(l, includeFilters)) } };
    });

    router.route("POST", base, (req, ctx) => {
      const b = body(req);
      const name = typeof b.name === "string" ? b.name.trim() : "";
      if (!name) throw validationError("name is required");
      const processingType = String(b.processingType ?? "") as ProcessingType;
      if (!PROCESSING_TYPES.includes(processingType)) throw validationError(`processingType must be one of ${PROCESSING_TYPES.join(", ")}`);
      const objectTypeId = objectTypeOf(ctx, String(b.objectTypeId ?? ""));
      if (lists.all().some((l) => l.deletedAt === null && l.name.toLowerCase() === name.toLowerCase())) {
        throw new HubSpotError(400, "VALIDATION_ERROR", `A list named "${name}" already exists`, { subCategory: "ILS_LIST_NAME_ALREADY_EXISTS" });
      }
      const filterBranch = b.filterBranch === undefined || b.filterBranch === null ? null : filterBranchOf(b.filterBranch);
      if (processingType === "DYNAMIC" && !filterBranch) throw validationError("A DYNAMIC list needs a filterBranch");
      const list = lists.create({ name, objectTypeId, processingType, filterBranch });
      return { status: 200, body: { list: listJson(list, true) } };
    });

    router.route("POST", `${base}/search`, (req, ctx) => {
      const b = body(req);
      const offset = intField(b.offset, "offset", 0, Number.MAX_SAFE_INTEGER);
      const count = intField(b.count, "count", 20, 500);
      const query = typeof b.query === "string" ? b.query.toLowerCase() : "";
      const types = stringArray(b.processingTypes, "processingTypes");
      const ids = stringArray(b.listIds, "listIds");
      const objectTypeId = typeof b.objectTypeId === "string" && b.objectTypeId ? objectTypeOf(ctx, b.objectTypeId) : null;
      const matching = lists.all().filter(
        (l) =>
          l.deletedAt === null &&
          (!query || l.name.toLowerCase().includes(query)) &&
          (types.length === 0 || types.includes(l.processingType)) &&
          (ids.length === 0 || ids.includes(l.listId)) &&
          (!objectTypeId || l.objectTypeId === objectTypeId),
      );
      const page = matching.slice(offset, offset + count);
      return { status: 200, body: { lists: page.map(searchJson), hasMore: offset + count < matching.length, offset: offset + page.length, total: matching.length } };
    });

    if (all) {
      router.route("POST", `${base}/all`, (req, ctx) => {
        const b = body(req);
        const count = intField(b.count, "count", 100, 500);
        const types = stringArray(b.processingTypes, "processingTypes");
        const objectTypeId = typeof b.objectTypeId === "string" && b.objectTypeId ? objectTypeOf(ctx, b.objectTypeId) : null;
        const after = typeof b.after === "string" && b.after ? Number(decode(b.after)) : 0;
        const matching = lists.all().filter(
          (l) => l.deletedAt === null && (types.length === 0 || types.includes(l.processingType)) && (!objectTypeId || l.objectTypeId === objectTypeId),
        );
        const rest = matching.filter((l) => l.idNum > after);
        const page = rest.slice(0, count);
        const out: Record<string, unknown> = { results: page.map(searchJson), total: matching.length };
        const last = page[page.length - 1];
        if (rest.length > count && last) out.paging = { next: { after: encode(String(last.idNum)) } };
        return { status: 200, body: out };
      });
    }

    router.route("GET", `${base}/object-type-id/{objectTypeId}/name/{listName}`, (req, ctx) => {
      const l = lists.byName(objectTypeOf(ctx, req.params.objectTypeId!), req.params.listName!);
      if (!l) throw notFound(`No list named "${req.params.listName}"`);
      return { status: 200, body: { list: listJson(l, boolParam(req.query, "includeFilters")) } };
    });

    router.route("GET", `${base}/{listId}`, (req) => ({ status: 200, body: { list: listJson(live(lists, req.params.listId!), boolParam(req.query, "includeFilters")) } }));

    router.route("DELETE", `${base}/{listId}`, (req) => {
      lists.delete(live(lists, req.params.listId!));
      return { status: 204 };
    });

    router.route("PUT", `${base}/{listId}/restore`, (req) => {
      const l = lists.get(req.params.listId!);
      if (!l || l.deletedAt === null) throw notFound(`No deleted list ${req.params.listId}`);
      lists.restore(l);
      return { status: 204 };
    });

    router.route("PUT", `${base}/{listId}/update-list-name`, (req) => {
      const l = live(lists, req.params.listId!);
      const name = (req.query.get("listName") ?? "").trim();
      if (!name) throw validationError("listName is required");
      if (lists.all().some((x) => x !== l && x.deletedAt === null && x.name.toLowerCase() === name.toLowerCase())) {
        throw new HubSpotError(400, "VALIDATION_ERROR", `A list named "${name}" already exists`, { subCategory: "ILS_LIST_NAME_ALREADY_EXISTS" });
      }
      lists.rename(l, name);
      return { status: 200, body: { updatedList: listJson(l, boolParam(req.query, "includeFilters")) } };
    });

    router.route("PUT", `${base}/{listId}/update-list-filters`, (req) => {
      const l = live(lists, req.params.listId!);
      if (l.processingType === "MANUAL") throw validationError(`List ${l.listId} is a MANUAL list: it has no filters`);
      lists.setFilters(l, filterBranchOf(body(req).filterBranch));
      return { status: 200, body: { updatedList: listJson(l, true) } };
    });

    router.route("GET", `${base}/{listId}/memberships`, memberships(lists, false));
    router.route("GET", `${base}/{listId}/memberships/join-order`, memberships(lists, true));

    router.route("PUT", `${base}/{listId}/memberships/add`, (req, ctx) => change(lists, ctx, live(lists, req.params.listId!), recordIdsBody(req), []));
    router.route("PUT", `${base}/{listId}/memberships/remove`, (req, ctx) => change(lists, ctx, live(lists, req.params.listId!), [], recordIdsBody(req)));
    router.route("PUT", `${base}/{listId}/memberships/add-and-remove`, (req, ctx) => {
      const b = body(req);
      return change(lists, ctx, live(lists, req.params.listId!), stringArray(b.recordIdsToAdd, "recordIdsToAdd"), stringArray(b.recordIdsToRemove, "recordIdsToRemove"));
    });

    router.route("DELETE", `${base}/{listId}/memberships`, (req) => {
      const l = live(lists, req.params.listId!);
      writable(l);
      lists.remove(l, [...l.members.keys()]);
      return { status: 204 };
    });
  }
}
