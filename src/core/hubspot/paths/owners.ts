import { crmBase, type ApiVersion } from "./version.ts";

/** Owners: `/crm/owners/{v}` (nothing after the version; legacy `/crm/v3/owners`). */
export function ownersPaths(version: ApiVersion) {
  const base = crmBase("owners", version, "/crm/v3/owners");
  return { list: () => base };
}
