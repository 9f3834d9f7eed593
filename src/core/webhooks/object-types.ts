import { STANDARD_OBJECT_TYPES } from "../schema/object-catalog.ts";
import type { ObjectRow } from "../schema/objects.ts";
import { WEBHOOK_ACTIONS, type WebhookAction, type WebhookEvent } from "./events.ts";

/**
 * Which hubsync object type(s) a webhook event concerns and which records to re-read. HubSpot names
 * six types in subscription types (`contact.creation`, `line_item.merge`); every other type and
 * custom objects come as `object.<action>` with `objectTypeId`. Only enabled, live CRM types are
 * applied: anything else is ignored with the reason (a backfilling type is read in full anyway).
 */

/** What one event asks of one object type. */
export interface TypeWork {
  /** Records whose current state is re-read and applied (any action but associationChange). */
  records: Set<string>;
  /** Records whose associations with every other type are re-read: new and restored records. */
  associations: Set<string>;
  /** Other type → records whose associations with that type alone are re-read: association changes. */
  pairs: Map<string, Set<string>>;
}

export type EventPlan = { ok: true; work: Map<string, TypeWork> } | { ok: false; note: string };

const BY_SINGULAR = new Map(Object.entries(STANDARD_OBJECT_TYPES).map(([name, t]) => [t.singular, name]));

export interface TypeIndex {
  byTypeId: Map<string, ObjectRow>;
  byName: Map<string, ObjectRow>;
  /** Upper-case singular name → row, for the ends named in associationType ("CONTACT_TO_COMPANY"). */
  bySingular: Map<string, ObjectRow>;
}

/** Indexes the enabled objects (hubsync.objects rows) for event resolution. */
export function indexObjects(rows: ObjectRow[]): TypeIndex {
  const index: TypeIndex = { byTypeId: new Map(), byName: new Map(), bySingular: new Map() };
  for (const row of rows) {
    if (row.kind !== "crm") continue;
    index.byName.set(row.object_type, row);
    const typeId = row.object_type_id ?? STANDARD_OBJECT_TYPES[row.object_type]?.objectTypeId;
    if (typeId) index.byTypeId.set(typeId, row);
    const singular = row.singular_name ?? STANDARD_OBJECT_TYPES[row.object_type]?.singular;
    if (singular) index.bySingular.set(singular.toUpperCase(), row);
  }
  return index;
}

type Resolved = { row: ObjectRow } | { note: string };

function usable(row: ObjectRow | undefined, label: string): Resolved {
  if (!row) return { note: `${label} is not synced (select hubsync.enable_sync(...) to sync it)` };
  if (row.phase !== "live") return { note: `${row.object_type} is ${row.phase}, not live: its backfill and pulls bring the change` };
  return { row };
}

function resolveSubject(event: WebhookEvent, index: TypeIndex): Resolved {
  const [subject] = event.subscriptionType.split(".") as [string];
  if (subject === "object") {
    if (!event.objectTypeId) return { note: "object.* event without objectTypeId" };
    return usable(index.byTypeId.get(event.objectTypeId), `object type ${event.objectTypeId}`);
  }
  const name = BY_SINGULAR.get(subject);
  if (!name) return { note: `${subject} events are not CRM records hubsync syncs` };
  return usable(index.byName.get(name), name);
}

/** The other end of an association change: its type id when HubSpot gives it, else the name in associationType. */
function resolveOtherEnd(event: WebhookEvent, index: TypeIndex): ObjectRow | undefined {
  const row = event.toObjectTypeId
    ? index.byTypeId.get(event.toObjectTypeId)
    : index.bySingular.get((event.associationType ?? "").split("_TO_")[1] ?? "");
  return row && row.phase === "live" ? row : undefined;
}

function workFor(plan: Map<string, TypeWork>, objectType: string): TypeWork {
  let w = plan.get(objectType);
  if (!w) plan.set(objectType, (w = { records: new Set(), associations: new Set(), pairs: new Map() }));
  return w;
}

function pairWork(w: TypeWork, otherType: string): Set<string> {
  let ids = w.pairs.get(otherType);
  if (!ids) w.pairs.set(otherType, (ids = new Set()));
  return ids;
}

export function planEvent(event: WebhookEvent, index: TypeIndex): EventPlan {
  const action = event.subscriptionType.split(".")[1] as WebhookAction;
  if (!WEBHOOK_ACTIONS.includes(action)) return { ok: false, note: `unknown action ${event.subscriptionType}` };
  const subject = resolveSubject(event, index);
  const work = new Map<string, TypeWork>();

  if (action === "associationChange") {
    if ("note" in subject) return { ok: false, note: subject.note };
    // Only the one pair changed: its table is re-read for both ends, not every pair of either type.
    // When the other end's type cannot be told, every pair of the subject's record is re-read.
    const other = resolveOtherEnd(event, index);
    const from = workFor(work, subject.row.object_type);
    if (event.fromObjectId) (other ? pairWork(from, other.object_type) : from.associations).add(event.fromObjectId);
    if (other && event.toObjectId) pairWork(workFor(work, other.object_type), subject.row.object_type).add(event.toObjectId);
    if (work.size > 0) return { ok: true, work };
    return { ok: false, note: "association change without fromObjectId/toObjectId" };
  }
  if ("note" in subject) return { ok: false, note: subject.note };

  const w = workFor(work, subject.row.object_type);
  for (const id of [event.objectId, event.primaryObjectId, event.newObjectId, ...(event.mergedObjectIds ?? [])]) if (id) w.records.add(id);
  if (w.records.size === 0) return { ok: false, note: `${event.subscriptionType} without an object id` };
  if ((action === "creation" || action === "restore") && event.objectId) w.associations.add(event.objectId);
  return { ok: true, work };
}
