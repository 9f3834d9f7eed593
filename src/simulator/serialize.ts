import type { ObjectTypeDef } from "./object-types.ts";
import type { SearchView, Store, StoredRecord } from "./store.ts";

/**
 * Records as HubSpot's `SimplePublicObject` JSON: the requested properties (or the type's default
 * set) plus hs_object_id, the create date and the last-modified property; defined-but-empty
 * requested properties as null (or omitted, by configuration); names that are not properties of
 * the type silently left out.
 */

export interface SerializeOptions {
  /** null = the type's default properties; "all" = every value the record has (write responses). */
  properties: string[] | null | "all";
  emptyAs: "null" | "omit";
  withArchiveFields?: boolean;
  /** Names whose history to include, newest version first as HubSpot lists them. */
  propertiesWithHistory?: string[] | null;
}

export interface PublicObject {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  archivedAt?: string;
  url?: string;
  propertiesWithHistory?: Record<string, PublicVersion[]>;
}

export interface PublicVersion {
  value: string;
  timestamp: string;
  sourceType: string;
  sourceId?: string;
  updatedByUserId?: number;
}

export function selectProperties(store: Store, type: ObjectTypeDef, values: Readonly<Record<string, string>>, options: SerializeOptions): Record<string, string | null> {
  if (options.properties === "all") return { ...values };
  const names = options.properties ?? type.defaultProperties;
  const out: Record<string, string | null> = {};
  const always = [type.createdProperty, type.lastModifiedProperty, "hs_object_id"];
  for (const name of [...names, ...always]) {
    if (name in out) continue;
    const v = values[name];
    if (v !== undefined) out[name] = v;
    else if (options.emptyAs === "null" && store.property(type, name)) out[name] = null;
  }
  return out;
}

export function serializeRecord(store: Store, type: ObjectTypeDef, record: StoredRecord | SearchView, options: SerializeOptions): PublicObject {
  const out: PublicObject = {
    id: record.id,
    properties: selectProperties(store, type, record.properties, options),
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
    archived: "archived" in record ? record.archived : false,
  };
  if (options.withArchiveFields !== false && "archivedAt" in record && record.archivedAt !== null) {
    out.archivedAt = new Date(record.archivedAt).toISOString();
  }
  if (options.propertiesWithHistory?.length) {
    out.propertiesWithHistory = {};
    const history = "history" in record ? record.history : undefined;
    for (const name of options.propertiesWithHistory) {
      const versions = history?.[name];
      const v = record.properties[name];
      out.propertiesWithHistory[name] = versions
        ? versions
            .map(({ at, ...x }) => ({ ...x, timestamp: new Date(at).toISOString() }))
            .reverse()
        : v === undefined
          ? []
          : [{ value: v, timestamp: new Date(record.createdAt).toISOString(), sourceType: "API" }];
    }
  }
  if (options.withArchiveFields !== false) {
    out.url = `https://app.hubspot.com/contacts/${store.portalId}/record/${type.objectTypeId}/${record.id}`;
  }
  return out;
}

/** Batch timestamps HubSpot puts on every batch response. */
export function batchEnvelope(startedAt: number): { status: "COMPLETE"; startedAt: string; completedAt: string } {
  return { status: "COMPLETE", startedAt: new Date(startedAt).toISOString(), completedAt: new Date().toISOString() };
}
