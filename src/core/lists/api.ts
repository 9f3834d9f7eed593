import { z } from "zod";
import type { HubSpotApi } from "../hubspot/client.ts";
import { HubSpotError, parseResponse } from "../hubspot/errors.ts";

/**
 * The calls of HubSpot's Lists (segments) API that hubsync makes, with their answers as zod reads
 * them. Every call goes through the client's `request`, so it is counted in the rate budget (the
 * general bucket: the Lists API declares no exemption) and retried like any other.
 */

/** A list as search and `all` return it: no size and no filters, but `additionalProperties`. */
export const ListSummary = z
  .object({
    listId: z.coerce.string(),
    name: z.string(),
    objectTypeId: z.string(),
    processingType: z.string(),
    processingStatus: z.string().nullish(),
    listVersion: z.number().int().nullish(),
    createdAt: z.string().nullish(),
    updatedAt: z.string().nullish(),
    filtersUpdatedAt: z.string().nullish(),
    deletedAt: z.string().nullish(),
    /**
     * Strings. By default HubSpot sends hs_list_size, hs_last_record_added_at and
     * hs_last_record_removed_at (epoch milliseconds) when they have values.
     */
    additionalProperties: z.record(z.string(), z.string().nullable()).nullish(),
  })
  .passthrough();
export type ListSummary = z.infer<typeof ListSummary>;

/** A list read by id: with its size, and its filters (`filterBranch`) when asked for. */
export const ListDetail = ListSummary.extend({ size: z.number().nullish(), filterBranch: z.unknown().optional() });
export type ListDetail = z.infer<typeof ListDetail>;

const Paging = z.object({ next: z.object({ after: z.string() }).nullish() }).passthrough().nullish();
const AllPage = z.object({ results: z.array(ListSummary), paging: Paging });
const SearchPage = z.object({ lists: z.array(ListSummary), hasMore: z.boolean(), offset: z.number().int() });
const ByIds = z.object({ lists: z.array(ListDetail) });
const Members = z.object({
  results: z.array(z.object({ recordId: z.coerce.string(), membershipTimestamp: z.string().nullish() })),
  paging: Paging,
});
export type MembersPage = { results: Array<{ recordId: string; addedAt: string | null }>; nextAfter: string | null };

/** HubSpot's spelling: `recordsIdsAdded` (the others without the extra s). */
export const MembershipsUpdate = z
  .object({
    recordsIdsAdded: z.array(z.coerce.string()).nullish(),
    recordIdsRemoved: z.array(z.coerce.string()).nullish(),
    recordIdsMissing: z.array(z.coerce.string()).nullish(),
  })
  .passthrough();
export type MembershipsUpdate = z.infer<typeof MembershipsUpdate>;

/** Search pages hold at most 500 lists, `all` pages as many. */
const LIST_PAGE = 500;
/** Membership pages hold at most 250 records. */
const MEMBERS_PAGE = 250;
/** Lists read by id per call (`listIds` repeated in the query string). */
const BY_IDS = 100;

/** Every list HubSpot has (deleted ones are not listed), through `all` (2026-09) or offset-paged search. */
export async function readAllLists(api: HubSpotApi): Promise<ListSummary[]> {
  const out: ListSummary[] = [];
  const all = api.paths.lists.all;
  if (all) {
    let after: string | null = null;
    do {
      const label = `lists (POST ${all()})`;
      const raw = await api.request("general", { method: "POST", path: all(), body: { processingTypes: [], additionalProperties: [], count: LIST_PAGE, ...(after ? { after } : {}) } }, { label });
      const page = parseResponse(AllPage, raw, label);
      out.push(...page.results);
      after = page.paging?.next?.after ?? null;
    } while (after);
    return out;
  }
  let offset = 0;
  for (;;) {
    const path = api.paths.lists.search();
    const label = `lists (POST ${path})`;
    const raw = await api.request("general", { method: "POST", path, body: { query: "", offset, count: LIST_PAGE, processingTypes: [], listIds: [], additionalProperties: [] } }, { label });
    const page = parseResponse(SearchPage, raw, label);
    out.push(...page.lists);
    if (!page.hasMore || page.lists.length === 0) return out;
    offset = page.offset;
  }
}

/** Lists by id with their filters; a deleted list comes with `deletedAt`, an unknown id not at all. */
export async function readListsById(api: HubSpotApi, ids: string[]): Promise<ListDetail[]> {
  const out: ListDetail[] = [];
  for (let i = 0; i < ids.length; i += BY_IDS) {
    const path = api.paths.lists.byIds();
    const label = `lists by id (GET ${path})`;
    const raw = await api.request("general", { method: "GET", path, query: { listIds: ids.slice(i, i + BY_IDS), includeFilters: true } }, { label });
    out.push(...parseResponse(ByIds, raw, label).lists);
  }
  return out;
}

const OneList = z.object({ list: ListDetail });

/** The live list of that name and object type, or null when HubSpot has none. */
export async function findListByName(api: HubSpotApi, objectTypeId: string, name: string): Promise<ListDetail | null> {
  const path = api.paths.lists.byName(objectTypeId, name);
  const label = `list named ${name} (GET ${path})`;
  try {
    return parseResponse(OneList, await api.request("general", { method: "GET", path, query: { includeFilters: true } }, { label }), label).list;
  } catch (err) {
    if (err instanceof HubSpotError && err.status === 404) return null;
    throw err;
  }
}

/** Creates a MANUAL list (HubSpot answers 200 with the list). */
export async function createManualList(api: HubSpotApi, objectTypeId: string, name: string): Promise<ListDetail> {
  const path = api.paths.lists.byIds();
  const label = `create list ${name} (POST ${path})`;
  // not repeated blindly after a lost answer: the next run finds the list by name instead
  const raw = await api.request("general", { method: "POST", path, body: { name, objectTypeId, processingType: "MANUAL" } }, { label, idempotent: false });
  return parseResponse(OneList, raw, label).list;
}

/** One page of a list's members in join order, from `after` (null: the first). */
export async function readMembersPage(api: HubSpotApi, listId: string, after: string | null): Promise<MembersPage> {
  const path = api.paths.lists.joinOrder(listId);
  const label = `list ${listId} members (GET ${path})`;
  const raw = await api.request("general", { method: "GET", path, query: { limit: MEMBERS_PAGE, after } }, { label });
  const page = parseResponse(Members, raw, label);
  return { results: page.results.map((r) => ({ recordId: r.recordId, addedAt: r.membershipTimestamp ?? null })), nextAfter: page.paging?.next?.after ?? null };
}

/**
 * Adds and removes members of one list in one call. Adding a member again and removing one that is
 * not there change nothing on HubSpot's side, so the call is safe to repeat after a lost answer.
 */
export async function changeMembers(api: HubSpotApi, listId: string, add: string[], remove: string[]): Promise<MembershipsUpdate> {
  const path = api.paths.lists.addAndRemove(listId);
  const label = `list ${listId} add ${add.length} / remove ${remove.length} (PUT ${path})`;
  const raw = await api.request("general", { method: "PUT", path, body: { recordIdsToAdd: add, recordIdsToRemove: remove } }, { label, idempotent: true });
  return parseResponse(MembershipsUpdate, raw ?? {}, label);
}
