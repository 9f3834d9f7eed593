import { crmBase, seg, type ApiVersion } from "./version.ts";

/**
 * Lists (segments): `/crm/lists/{v}/…` (legacy `/crm/v3/lists/…`). `all` (every list in id order,
 * paged with a cursor) exists from 2026-09 on; older versions page `search` by offset instead.
 */
export function listsPaths(version: ApiVersion) {
  const base = crmBase("lists", version, "/crm/v3/lists");
  return {
    /** GET lists by id (`listIds` repeated, `includeFilters`); POST creates a list. */
    byIds: () => base,
    /** GET a list by its name (not case sensitive) and object type id. */
    byName: (objectTypeId: string, name: string) => `${base}/object-type-id/${seg(objectTypeId)}/name/${seg(name)}`,
    all: version === "2026-09" ? () => `${base}/all` : null,
    search: () => `${base}/search`,
    /** Members ordered by join time. */
    joinOrder: (listId: string) => `${base}/${seg(listId)}/memberships/join-order`,
    /** PUT {recordIdsToAdd, recordIdsToRemove}. */
    addAndRemove: (listId: string) => `${base}/${seg(listId)}/memberships/add-and-remove`,
  };
}
