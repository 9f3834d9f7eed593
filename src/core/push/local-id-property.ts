import type { HubSpotApi } from "../hubspot/client.ts";
import { HubSpotError } from "../hubspot/errors.ts";
import { STANDARD_OBJECT_TYPES } from "../schema/object-catalog.ts";
import { LOCAL_ID_PROPERTY } from "./plan.ts";
import { propertyDefinitions } from "./validate.ts";

/**
 * How creates of an object type are kept exactly-once:
 *  - "unique": hubsync_local_id is a unique-value property, and creates are batch upserts keyed by
 *    it: if a worker dies after HubSpot created a record but before the id was committed, the
 *    retry finds the record by it instead of creating it twice.
 *  - "plain": HubSpot allows unique-value properties on contacts, companies, deals, tickets and
 *    custom objects only. Elsewhere (calls, emails, meetings, notes, tasks, products, line items...)
 *    hubsync_local_id is an ordinary property set on each create, and a create whose answer never
 *    came is looked up by a search on it before it is sent again.
 */
export type LocalIdKind = "unique" | "plain";

/** The standard types HubSpot allows unique-value properties on; custom objects allow them too. */
const UNIQUE_VALUE_TYPES = new Set(["contacts", "companies", "deals", "tickets"]);

export function localIdKindFor(objectType: string): LocalIdKind {
  return UNIQUE_VALUE_TYPES.has(objectType) || !(objectType in STANDARD_OBJECT_TYPES) ? "unique" : "plain";
}

/** Per client (one portal each), the object types whose property exists, and its kind. */
const ready = new WeakMap<HubSpotApi, Map<string, LocalIdKind>>();

/**
 * Makes sure the portal has hubsync's local-id property on the object type (once per type and
 * process), creating it if need be; only called when a create is about to be sent. Creating a
 * property needs the crm.schemas.<type>.write scope: without it the call fails with HubSpot's 403,
 * which the caller holds the creates for (updates and deletes do not need the property).
 */
export async function ensureLocalIdProperty(api: HubSpotApi, objectType: string): Promise<LocalIdKind> {
  const known = ready.get(api) ?? new Map<string, LocalIdKind>();
  ready.set(api, known);
  const hit = known.get(objectType);
  if (hit) return hit;
  const { defs } = await propertyDefinitions(api, objectType, { fresh: true });
  const existing = defs.find((d) => d.name === LOCAL_ID_PROPERTY);
  if (existing) {
    const kind: LocalIdKind = existing.hasUniqueValue ? "unique" : "plain";
    known.set(objectType, kind);
    return kind;
  }
  const groups = defs.map((d) => (d as { groupName?: unknown }).groupName).filter((g): g is string => typeof g === "string");
  const groupName = groups.find((n) => n.endsWith("information")) ?? groups[0] ?? "hubsync";
  const create = (unique: boolean) =>
    api.request(
      "general",
      {
        method: "POST",
        path: api.paths.properties.list(objectType),
        body: {
          name: LOCAL_ID_PROPERTY,
          label: "hubsync local id",
          description: "Set by hubsync when a record is created from PostgreSQL (its row's _sync_local_id); makes those creates exactly-once.",
          type: "string",
          fieldType: "text",
          groupName,
          hasUniqueValue: unique,
          formField: false,
        },
      },
      { label: `create property ${objectType}.${LOCAL_ID_PROPERTY}` },
    );
  let kind = localIdKindFor(objectType);
  try {
    await create(kind === "unique");
  } catch (err) {
    if (!(err instanceof HubSpotError)) throw err;
    if (err.status === 409) {
      // Another worker created it between our check and our create: take what it made.
      return ensureLocalIdProperty(api, objectType);
    }
    // A type HubSpot refuses unique values on after all: the plain property and a search do.
    if (err.status === 400 && kind === "unique" && /unique value/i.test(err.body?.message ?? "")) {
      kind = "plain";
      await create(false);
    } else {
      throw err;
    }
  }
  known.set(objectType, kind);
  return kind;
}
