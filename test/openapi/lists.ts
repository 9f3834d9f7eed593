/**
 * Lists (segments) shapes, written from PublicApiSpecs/CRM/Lists/Rollouts/144891/2026-09/lists.json
 * and Rollouts/327894/2026-09/lists.json (the later file adds `POST /crm/lists/2026-09/all`).
 */
import { z } from "zod";
import { dateTime, int32, Paging } from "./common.ts";

/** PublicObjectList: listId, listVersion, name, objectTypeId, processingStatus, processingType required. */
export const PublicObjectList = z.strictObject({
  listId: z.string(),
  listVersion: int32,
  name: z.string(),
  objectTypeId: z.string(),
  processingStatus: z.string(),
  processingType: z.string(),
  createdAt: dateTime.optional(),
  createdById: z.string().optional(),
  updatedAt: dateTime.optional(),
  updatedById: z.string().optional(),
  filtersUpdatedAt: dateTime.optional(),
  deletedAt: dateTime.optional(),
  size: z.int().optional(),
  filterBranch: z.record(z.string(), z.unknown()).optional(),
  listPermissions: z.unknown().optional(),
  membershipSettings: z.unknown().optional(),
});

/** PublicObjectListSearchResult: like the list without size, filters and settings, plus additionalProperties (required). */
export const PublicObjectListSearchResult = PublicObjectList.omit({ size: true, filterBranch: true, listPermissions: true, membershipSettings: true }).extend({
  additionalProperties: z.record(z.string(), z.string()),
});

export const ListCreateResponse = z.strictObject({ list: PublicObjectList });
export const ListFetchResponse = ListCreateResponse;
export const ListsByIdResponse = z.strictObject({ lists: z.array(PublicObjectList) });
export const ListUpdateResponse = z.strictObject({ updatedList: PublicObjectList.optional() });
export const ListSearchResponse = z.strictObject({ lists: z.array(PublicObjectListSearchResult), hasMore: z.boolean(), offset: int32, total: int32 });
export const ApiCollectionResponsePublicObjectListSearchResult = z.strictObject({
  results: z.array(PublicObjectListSearchResult),
  paging: Paging.optional(),
  total: z.int().optional(),
});
/** JoinTimeAndRecordId: membershipTimestamp, recordId required. */
export const JoinTimeAndRecordId = z.strictObject({ membershipTimestamp: dateTime, recordId: z.string() });
export const ApiCollectionResponseJoinTimeAndRecordId = z.strictObject({ results: z.array(JoinTimeAndRecordId), paging: Paging.optional(), total: z.int().optional() });
/** MembershipsUpdateResponse (the spec spells `recordsIdsAdded`): all three required. */
export const MembershipsUpdateResponse = z.strictObject({
  recordsIdsAdded: z.array(z.string()),
  recordIdsRemoved: z.array(z.string()),
  recordIdsMissing: z.array(z.string()),
});
