import { crmBase, seg, type ApiVersion } from "./version.ts";

export type ObjectBatchKind = "read" | "create" | "update" | "upsert" | "archive";

/** Records of any CRM type: `/crm/objects/{v}/{type}…` (legacy `/crm/v3/objects/{type}…`). */
export function objectsPaths(version: ApiVersion) {
  const base = crmBase("objects", version, "/crm/v3/objects");
  return {
    /** GET a page; POST creates one record. */
    list: (objectType: string) => `${base}/${seg(objectType)}`,
    batch: (objectType: string, kind: ObjectBatchKind) => `${base}/${seg(objectType)}/batch/${kind}`,
    search: (objectType: string) => `${base}/${seg(objectType)}/search`,
  };
}
