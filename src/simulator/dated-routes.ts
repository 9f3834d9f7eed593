import { batchEnvelope } from "./serialize.ts";
import type { SimResponse } from "./router.ts";

/**
 * HubSpot's date-versioned CRM paths (`/crm/objects/2026-09/contacts`, `/crm/associations/2026-03/…`,
 * `/crm-object-schemas/2026-09/schemas`). They carry the same records as the v3/v4 paths, so each
 * dated path is rewritten to its legacy twin and answered by the same handler; the few ways the
 * dated versions answer differently are applied afterwards by `adaptDatedResponse`.
 *
 * The API name comes before the version (`/crm/owners/2026-09`, nothing after it for the owners
 * list), except object schemas (`/crm-object-schemas/2026-09/schemas`). Record-level association
 * paths live under the objects API (`/crm/objects/{v}/{type}/{id}/associations/…`) and answer like
 * associations v4, not like v3's embedded associations.
 */

/** The versions HubSpot published for the CRM APIs a sync uses (March and September releases). */
export const DATED_VERSIONS = ["2025-09", "2026-03", "2026-09"] as const;
export type DatedVersion = (typeof DATED_VERSIONS)[number];

export interface DatedPath {
  version: DatedVersion;
  /** The v3/v4 path answering the same request. */
  legacy: string;
}

const LEGACY_PREFIX = {
  objects: "/crm/v3/objects",
  properties: "/crm/v3/properties",
  owners: "/crm/v3/owners",
  pipelines: "/crm/v3/pipelines",
  associations: "/crm/v4/associations",
} as const;

const DATED = /^\/crm\/(objects|properties|owners|pipelines|associations)\/(\d{4}-\d{2})(\/.*)?$/;
const DATED_SCHEMAS = /^\/crm-object-schemas\/(\d{4}-\d{2})(\/.*)?$/;
/** `/{type}/{id}/associations/…` under the objects API. */
const RECORD_ASSOCIATIONS = /^\/[^/]+\/[^/]+\/associations\//;

function isVersion(v: string): v is DatedVersion {
  return (DATED_VERSIONS as readonly string[]).includes(v);
}

/** The legacy twin of a dated path, or undefined for legacy paths and versions HubSpot never published. */
export function datedPath(path: string): DatedPath | undefined {
  const schemas = DATED_SCHEMAS.exec(path);
  if (schemas) {
    const [, version, rest = ""] = schemas;
    return isVersion(version!) ? { version: version as DatedVersion, legacy: `/crm-object-schemas/v3${rest}` } : undefined;
  }
  const m = DATED.exec(path);
  if (!m) return undefined;
  const [, api, version, rest = ""] = m;
  if (!isVersion(version!)) return undefined;
  if (api === "objects" && RECORD_ASSOCIATIONS.test(rest)) return { version, legacy: `/crm/v4/objects${rest}` };
  return { version, legacy: `${LEGACY_PREFIX[api as keyof typeof LEGACY_PREFIX]}${rest}` };
}

/**
 * Dated routes the version does not have although their legacy twin exists: 2026-09 dropped the
 * record-level association list (`GET /crm/objects/2026-09/{type}/{id}/associations/{toType}`);
 * readers use the associations batch read there.
 */
export function datedRouteMissing(method: string, dated: DatedPath): boolean {
  return dated.version === "2026-09" && method === "GET" && /^\/crm\/v4\/objects\/[^/]+\/[^/]+\/associations\/[^/]+$/.test(dated.legacy);
}

export interface DatedOptions {
  /**
   * 2026-09 declares no 207 for its batch endpoints: partial failures are `errors[]` inside the
   * plain answer. Whether the status is then 200 or still 207 is not documented, so by default a
   * partial answer is a 200 (a client must read `errors[]` whatever the status); true keeps 207.
   */
  multiStatus2026_09: boolean;
}

const ASSOCIATION_ARCHIVE = /^\/crm\/v4\/associations\/[^/]+\/[^/]+\/batch\/(archive|labels\/archive)$/;
const ASSOCIATION_CREATE = /^\/crm\/v4\/associations\/[^/]+\/[^/]+\/batch\/create$/;
const PROPERTY_BATCH_CREATE = /^\/crm\/v3\/properties\/[^/]+\/batch\/create$/;

/** The legacy handler's answer, reshaped where the dated version answers differently. */
export function adaptDatedResponse(dated: DatedPath, out: SimResponse, options: DatedOptions, startedAt: number): SimResponse {
  // Every dated version answers association archives 200 with a batch body instead of v4's 204.
  if (out.status === 204 && ASSOCIATION_ARCHIVE.test(dated.legacy)) {
    return { ...out, status: 200, body: { ...batchEnvelope(startedAt), results: [] } };
  }
  if (dated.version !== "2026-09") return out;
  if (out.status === 207 && !options.multiStatus2026_09) return { ...out, status: 200 };
  // 2026-09 declares association and property batch creates as 200, not 201 (object creates stay 201).
  if (out.status === 201 && (ASSOCIATION_CREATE.test(dated.legacy) || PROPERTY_BATCH_CREATE.test(dated.legacy))) return { ...out, status: 200 };
  return out;
}
