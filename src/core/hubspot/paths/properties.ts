import { crmBase, seg, type ApiVersion } from "./version.ts";

/** Property definitions: `/crm/properties/{v}/{type}` (legacy `/crm/v3/properties/{type}`). */
export function propertiesPaths(version: ApiVersion) {
  const base = crmBase("properties", version, "/crm/v3/properties");
  return {
    /** GET every property of the type; POST creates one. */
    list: (objectType: string) => `${base}/${seg(objectType)}`,
  };
}
