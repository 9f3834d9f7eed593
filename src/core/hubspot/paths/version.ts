/**
 * Which of HubSpot's API path families hubsync calls. HubSpot ships a dated version of its CRM APIs
 * each March and September (`/crm/objects/2026-09/…`) and has stopped fixing the numbered ones:
 * `/v4/` paths (associations) are unsupported from 2027-03-30, `/v1/`–`/v3/` from September 2027,
 * so a hubsync left running must not depend on them. `legacy` (v3 objects, properties, owners,
 * pipelines and schemas; v4 associations) stays for portals or proxies that only know those.
 * The dated versions carry the same record shapes as v3/v4; where they answer differently (an
 * association archive answers 200 with a body instead of 204; 2026-09 reports a partly failed
 * batch as 200 with `errors[]` instead of 207), hubsync reads both answers alike.
 */
export const API_VERSIONS = ["2026-09", "2026-03", "legacy"] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];
export const DEFAULT_API_VERSION: ApiVersion = "2026-09";

/** `/crm/{api}/{version}` for a dated version, or the legacy prefix. */
export function crmBase(api: string, version: ApiVersion, legacy: string): string {
  return version === "legacy" ? legacy : `/crm/${api}/${version}`;
}

/** One path segment (an object type, an id, a property name), escaped. */
export const seg = (s: string): string => encodeURIComponent(s);
