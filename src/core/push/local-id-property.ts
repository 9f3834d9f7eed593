import type { HubSpotApi } from "../hubspot/client.ts";
import { HubSpotError } from "../hubspot/errors.ts";
import { LOCAL_ID_PROPERTY } from "./plan.ts";

/** Per client (one portal each), the object types known to have the property. */
const ready = new WeakMap<HubSpotApi, Set<string>>();

/**
 * Creates hubsync's unique-value property in the portal (once per object type and process) so
 * creates can be sent as batch upserts keyed by the row's _sync_local_id: if a worker dies after
 * HubSpot created a record but before the id was committed, the retry finds the record by this
 * property instead of creating it twice. HubSpot allows 10 unique-value properties per object.
 */
export async function ensureLocalIdProperty(api: HubSpotApi, objectType: string): Promise<void> {
  const known = ready.get(api) ?? new Set<string>();
  ready.set(api, known);
  if (known.has(objectType)) return;
  // One read of the object's properties says whether ours exists and which group to put it in.
  const defs = await api.properties(objectType);
  if (defs.some((d) => d.name === LOCAL_ID_PROPERTY)) {
    known.add(objectType);
    return;
  }
  const groups = defs.map((d) => (d as { groupName?: unknown }).groupName).filter((g): g is string => typeof g === "string");
  const groupName = groups.find((n) => n.endsWith("information")) ?? groups[0] ?? "hubsync";
  try {
    await api.request(
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
          hasUniqueValue: true,
          formField: false,
        },
      },
      { label: `create property ${objectType}.${LOCAL_ID_PROPERTY}` },
    );
  } catch (err) {
    // Another worker created it between our check and our create.
    if (!(err instanceof HubSpotError) || err.status !== 409) throw err;
  }
  known.add(objectType);
}
