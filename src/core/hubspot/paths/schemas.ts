import type { ApiVersion } from "./version.ts";

/**
 * Custom object schemas. Unlike the other CRM APIs the version follows a name of its own:
 * `/crm-object-schemas/{v}/schemas` (legacy `/crm-object-schemas/v3/schemas`).
 */
export function schemasPaths(version: ApiVersion) {
  const base = `/crm-object-schemas/${version === "legacy" ? "v3" : version}/schemas`;
  return { list: () => base };
}
