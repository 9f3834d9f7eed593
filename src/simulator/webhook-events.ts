import type { WebhookAction } from "../core/webhooks/events.ts";
import { associationsOf, type AssociationChange } from "./associations.ts";
import type { ObjectTypeDef } from "./object-types.ts";
import type { Store } from "./store.ts";

/**
 * Turns the simulator's store and association changes into HubSpot v3 webhook events (the
 * receiver parses them with src/core/webhooks/events.ts). The sender (webhooks.ts) adds eventId,
 * subscriptionId, portalId, appId and attemptNumber; this module only says what happened, to what
 * and when.
 */

/** An event before delivery: everything but the per-delivery fields. */
export interface ChangeEvent {
  subscriptionType: string;
  objectTypeId?: string;
  occurredAt: number;
  objectId?: number;
  propertyName?: string;
  propertyValue?: string;
  changeSource?: string;
  primaryObjectId?: number;
  mergedObjectIds?: number[];
  newObjectId?: number;
  numberOfPropertiesMoved?: number;
  associationType?: string;
  associationTypeId?: number;
  fromObjectId?: number;
  toObjectId?: number;
  fromObjectTypeId?: string;
  toObjectTypeId?: string;
  associationRemoved?: boolean;
  isPrimaryAssociation?: boolean;
}

/** Types HubSpot names in their subscription types; every other one is `object.<action>` + objectTypeId. */
const NAMED_TYPES = new Set(["contact", "company", "deal", "ticket", "line_item", "product"]);

export function subscriptionTypeOf(type: ObjectTypeDef, action: WebhookAction): { subscriptionType: string; objectTypeId?: string } {
  if (!type.custom && NAMED_TYPES.has(type.singular)) return { subscriptionType: `${type.singular}.${action}` };
  return { subscriptionType: `object.${action}`, objectTypeId: type.objectTypeId };
}

/** Listens to `store` (and its associations) and calls `emit` for each event; returns the unsubscribe function. */
export function followChanges(store: Store, emit: (event: ChangeEvent) => void): () => void {
  const base = (type: ObjectTypeDef, action: WebhookAction, objectId: string, occurredAt: number): ChangeEvent => ({
    ...subscriptionTypeOf(type, action),
    occurredAt,
    objectId: Number(objectId),
    changeSource: "API",
  });
  const associations = associationsOf(store);
  const onAssociation = (c: AssociationChange): void => {
    const from = store.resolveType(c.from);
    const to = store.resolveType(c.to);
    if (!from || !to) return;
    const occurredAt = store.clock.now();
    const associationType = `${from.singular}_TO_${to.singular}`.toUpperCase();
    for (const [ids, removed] of [[c.added, false], [c.removed, true]] as const) {
      for (const typeId of ids) {
        emit({
          ...subscriptionTypeOf(from, "associationChange"),
          occurredAt,
          associationType,
          associationTypeId: typeId,
          fromObjectId: c.fromId,
          toObjectId: c.toId,
          fromObjectTypeId: from.objectTypeId,
          toObjectTypeId: to.objectTypeId,
          associationRemoved: removed,
          isPrimaryAssociation: associations.types.get(c.from, c.to, typeId)?.primary === true,
          changeSource: "API",
        });
      }
    }
  };
  const stops = [
    store.on("create", ({ type, record }) => emit(base(type, "creation", record.id, record.createdAt))),
    store.on("update", ({ type, record, changed }) => {
      for (const name of changed) {
        emit({ ...base(type, "propertyChange", record.id, record.updatedAt), propertyName: name, propertyValue: record.properties[name] ?? "" });
      }
    }),
    store.on("archive", ({ type, id }) => emit(base(type, "deletion", id, store.getRecord(type, id)?.archivedAt ?? store.clock.now()))),
    store.on("restore", ({ type, id }) => emit(base(type, "restore", id, store.clock.now()))),
    store.on("merge", ({ type, winnerId, loserId }) => {
      const winner = Number(winnerId);
      emit({
        ...base(type, "merge", winnerId, store.getRecord(type, winnerId)?.updatedAt ?? store.clock.now()),
        primaryObjectId: winner,
        mergedObjectIds: [Number(loserId)],
        newObjectId: winner,
      });
    }),
    store.on("purge", ({ type, id }) => {
      const at = store.clock.now();
      emit(base(type, "deletion", id, at));
      if (type.name === "contacts") emit(base(type, "privacyDeletion", id, at));
    }),
    associations.onChange(onAssociation),
  ];
  return () => {
    for (const stop of stops) stop();
  };
}
