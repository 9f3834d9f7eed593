import { crmBase, seg, type ApiVersion } from "./version.ts";

export type AssociationBatchKind = "read" | "create" | "archive" | "labels/archive" | "associate/default";

/**
 * Associations between two types and their labels: `/crm/associations/{v}/{from}/{to}/…`
 * (legacy `/crm/v4/associations/{from}/{to}/…`, unsupported from 2027-03-30).
 */
export function associationsPaths(version: ApiVersion) {
  const base = crmBase("associations", version, "/crm/v4/associations");
  return {
    batch: (fromType: string, toType: string, kind: AssociationBatchKind) => `${base}/${seg(fromType)}/${seg(toType)}/batch/${kind}`,
    /** GET the pair's association types (labelled and not). */
    labels: (fromType: string, toType: string) => `${base}/${seg(fromType)}/${seg(toType)}/labels`,
  };
}
