/**
 * The simulator's association store: which records are associated, with which type ids, in both
 * directions. HubSpot associations are symmetric (creating A→B makes B→A visible with the inverse
 * type ids), so each write updates both directions and reads never have to invert anything.
 *
 * Indexed by (fromType, toType) → fromId → toId → type ids, so a v4 batch read of 1,000 ids is
 * 1,000 map lookups. Ids are numbers internally (HubSpot record ids are numeric) to keep 100k-record
 * portals small in memory.
 */
import { AssociationTypeRegistry, pairKey, type AssociationTypeDef, type AssociationTypesOptions } from "./association-types.ts";
import type { Store } from "./store.ts";

/** What the association store needs to know about records; the record store implements it. */
export interface AssociationRecordView {
  /** False for ids that never existed (or were purged/merged away). Archived records still exist. */
  exists(objectTypeId: string, id: number): boolean;
  isArchived(objectTypeId: string, id: number): boolean;
}

export interface AssociatedTarget {
  toObjectId: number;
  types: AssociationTypeDef[];
}

export interface AssociationPage {
  results: AssociatedTarget[];
  /** Present when more targets follow; pass it back as `after`. */
  after?: string;
}

export interface AssociationStoreOptions extends AssociationTypesOptions {
  /** Called for both records when an association changes, if the portal is configured to bump last-modified. */
  onRecordTouched?: (objectTypeId: string, id: number) => void;
}

type Targets = Map<number, number[]>;

/** The type ids of one direction of a pair that a write added or removed (webhooks follow these). */
export interface AssociationChange {
  from: string;
  fromId: number;
  to: string;
  toId: number;
  added: number[];
  removed: number[];
}

export class AssociationStore {
  types: AssociationTypeRegistry;
  #typeOptions: AssociationTypesOptions;
  #edges = new Map<string, Map<number, Targets>>();
  #records: AssociationRecordView;
  #onTouched?: (objectTypeId: string, id: number) => void;
  #changeListeners: Array<(change: AssociationChange) => void> = [];

  constructor(records: AssociationRecordView, options: AssociationStoreOptions = {}) {
    this.#typeOptions = { firstUserDefinedTypeId: options.firstUserDefinedTypeId };
    this.types = new AssociationTypeRegistry(this.#typeOptions);
    this.#records = records;
    this.#onTouched = options.onRecordTouched;
  }

  /** Whether association writes bump last-modified (HubSpot leaves it undocumented): off unless a callback is given. */
  setTouchHandler(handler: ((objectTypeId: string, id: number) => void) | undefined): void {
    this.#onTouched = handler;
  }

  isLive(objectTypeId: string, id: number): boolean {
    return this.#records.exists(objectTypeId, id) && !this.#records.isArchived(objectTypeId, id);
  }

  #targets(from: string, to: string, fromId: number, create: true): Targets;
  #targets(from: string, to: string, fromId: number, create?: false): Targets | undefined;
  #targets(from: string, to: string, fromId: number, create = false): Targets | undefined {
    const key = pairKey(from, to);
    let byFrom = this.#edges.get(key);
    if (!byFrom) {
      if (!create) return undefined;
      this.#edges.set(key, (byFrom = new Map()));
    }
    let targets = byFrom.get(fromId);
    if (!targets && create) byFrom.set(fromId, (targets = new Map()));
    return targets;
  }

  #write(from: string, fromId: number, to: string, toId: number, typeIds: number[]): void {
    const inverse = typeIds.map((t) => this.types.get(from, to, t)!.inverseTypeId);
    this.#setOne(from, fromId, to, toId, typeIds);
    this.#setOne(to, toId, from, fromId, inverse);
  }

  /** Follow every change of stored type ids, each direction separately; returns the unsubscribe function. */
  onChange(fn: (change: AssociationChange) => void): () => void {
    this.#changeListeners.push(fn);
    return () => {
      const at = this.#changeListeners.indexOf(fn);
      if (at >= 0) this.#changeListeners.splice(at, 1);
    };
  }

  #setOne(from: string, fromId: number, to: string, toId: number, typeIds: number[]): void {
    // Only diffed when someone listens, so seeding pays nothing.
    const before = this.#changeListeners.length > 0 ? this.typeIdsBetween(from, fromId, to, toId) : undefined;
    if (typeIds.length === 0) {
      const targets = this.#targets(from, to, fromId);
      targets?.delete(toId);
      if (targets?.size === 0) this.#edges.get(pairKey(from, to))!.delete(fromId);
    } else {
      this.#targets(from, to, fromId, true).set(toId, [...new Set(typeIds)].sort((a, b) => a - b));
    }
    if (before) {
      const after = this.typeIdsBetween(from, fromId, to, toId);
      const added = after.filter((t) => !before.includes(t));
      const removed = before.filter((t) => !after.includes(t));
      if (added.length + removed.length > 0) for (const fn of this.#changeListeners) fn({ from, fromId, to, toId, added, removed });
    }
  }

  /** Type ids currently set from → to (no archive filtering). */
  typeIdsBetween(from: string, fromId: number, to: string, toId: number): number[] {
    return this.#targets(from, to, fromId)?.get(toId) ?? [];
  }

  /**
   * Replaces the set of types between the pair (HubSpot's PUT / batch create semantics). The pair's
   * unlabeled type is always included, and a "primary" type moves away from the source's other targets.
   * Unknown type ids throw; callers validate first with `types.get`.
   */
  set(from: string, fromId: number, to: string, toId: number, typeIds: number[]): AssociationTypeDef[] {
    const defs = typeIds.map((t) => {
      const def = this.types.get(from, to, t);
      if (!def) throw new Error(`unknown association type ${t} for ${from}→${to}`);
      return def;
    });
    const unlabeled = this.types.unlabeled(from, to);
    const ids = new Set([unlabeled.typeId, ...defs.map((d) => d.typeId)]);
    for (const def of defs) if (def.primary) this.#dropPrimaryElsewhere(from, fromId, to, toId, def.typeId);
    this.#write(from, fromId, to, toId, [...ids]);
    this.#touch(from, fromId, to, toId);
    return [...ids].map((t) => this.types.get(from, to, t)!);
  }

  /** Adds types to whatever is there (control API, seeding, default associations). */
  add(from: string, fromId: number, to: string, toId: number, typeIds: number[] = []): AssociationTypeDef[] {
    return this.set(from, fromId, to, toId, [...this.typeIdsBetween(from, fromId, to, toId), ...typeIds]);
  }

  /**
   * Removes the given types. Removing the unlabeled type removes the whole association, as HubSpot
   * documents for batch/labels/archive.
   */
  removeTypes(from: string, fromId: number, to: string, toId: number, typeIds: number[]): void {
    const current = this.typeIdsBetween(from, fromId, to, toId);
    if (current.length === 0) return;
    const unlabeled = this.types.unlabeled(from, to).typeId;
    const drop = new Set(typeIds);
    const keep = drop.has(unlabeled) ? [] : current.filter((t) => !drop.has(t));
    this.#write(from, fromId, to, toId, keep);
    this.#touch(from, fromId, to, toId);
  }

  /** Removes every type between the pair. */
  remove(from: string, fromId: number, to: string, toId: number): boolean {
    if (this.typeIdsBetween(from, fromId, to, toId).length === 0) return false;
    this.#write(from, fromId, to, toId, []);
    this.#touch(from, fromId, to, toId);
    return true;
  }

  #dropPrimaryElsewhere(from: string, fromId: number, to: string, toId: number, primaryTypeId: number): void {
    const targets = this.#targets(from, to, fromId);
    if (!targets) return;
    for (const [other, ids] of [...targets]) {
      if (other !== toId && ids.includes(primaryTypeId)) {
        this.#write(from, fromId, to, other, ids.filter((t) => t !== primaryTypeId));
      }
    }
  }

  #touch(from: string, fromId: number, to: string, toId: number): void {
    if (!this.#onTouched) return;
    this.#onTouched(from, fromId);
    this.#onTouched(to, toId);
  }

  /**
   * One page of the live targets of a live source record, ordered by target id. `after` is the last
   * target id of the previous page (opaque to clients). Archived sources and targets are hidden but
   * kept, so a restore brings the associations back as HubSpot's does.
   */
  page(from: string, fromId: number, to: string, options: { after?: string; limit: number }): AssociationPage {
    if (!this.isLive(from, fromId)) return { results: [] };
    const targets = this.#targets(from, to, fromId);
    if (!targets) return { results: [] };
    const after = options.after === undefined ? -Infinity : Number(options.after);
    const ids = [...targets.keys()].filter((id) => id > after && this.isLive(to, id)).sort((a, b) => a - b);
    const slice = ids.slice(0, options.limit);
    const results = slice.map((id) => ({
      toObjectId: id,
      types: targets.get(id)!.map((t) => this.types.get(from, to, t)!).filter(Boolean),
    }));
    return ids.length > slice.length ? { results, after: String(slice[slice.length - 1]) } : { results };
  }

  /** Every live association from → to, for comparisons in tests (control API listAssociations). */
  list(from: string, to: string): Array<{ fromId: number; toId: number; typeIds: number[] }> {
    const byFrom = this.#edges.get(pairKey(from, to));
    const out: Array<{ fromId: number; toId: number; typeIds: number[] }> = [];
    if (!byFrom) return out;
    for (const [fromId, targets] of byFrom) {
      if (!this.isLive(from, fromId)) continue;
      for (const [toId, typeIds] of targets) if (this.isLive(to, toId)) out.push({ fromId, toId, typeIds: [...typeIds] });
    }
    return out.sort((a, b) => a.fromId - b.fromId || a.toId - b.toId);
  }

  /** Number of stored directed edges (both directions count), archived ones included. */
  size(): number {
    let n = 0;
    for (const byFrom of this.#edges.values()) for (const t of byFrom.values()) n += t.size;
    return n;
  }

  /** Object types that `objectTypeId` has stored associations to. */
  #pairsFrom(objectTypeId: string): string[] {
    const out: string[] = [];
    for (const key of this.#edges.keys()) {
      const [from, to] = key.split(">") as [string, string];
      if (from === objectTypeId) out.push(to);
    }
    return out;
  }

  /**
   * A merge moves the loser's associations to the winner (HubSpot keeps them on the surviving
   * record). A primary label the winner already has elsewhere stays there; the loser's is dropped.
   */
  merge(objectTypeId: string, winnerId: number, loserId: number): void {
    for (const to of this.#pairsFrom(objectTypeId)) {
      const targets = this.#targets(objectTypeId, to, loserId);
      if (!targets) continue;
      for (const [toId, typeIds] of [...targets]) {
        this.#write(objectTypeId, loserId, to, toId, []);
        if (to === objectTypeId && toId === winnerId) continue;
        const existing = this.typeIdsBetween(objectTypeId, winnerId, to, toId);
        const winnerPrimaries = new Set<number>();
        for (const [other, ids] of this.#targets(objectTypeId, to, winnerId) ?? []) {
          if (other !== toId) for (const t of ids) if (this.types.get(objectTypeId, to, t)?.primary) winnerPrimaries.add(t);
        }
        const moved = typeIds.filter((t) => !winnerPrimaries.has(t));
        this.#write(objectTypeId, winnerId, to, toId, [...new Set([...existing, ...moved])]);
      }
    }
  }

  /** A deleted label disappears from every association that carried it (both directions). */
  dropType(from: string, to: string, typeId: number): void {
    const byFrom = this.#edges.get(pairKey(from, to));
    if (!byFrom) return;
    for (const [fromId, targets] of [...byFrom]) {
      for (const [toId, ids] of [...targets]) {
        if (ids.includes(typeId)) this.#write(from, fromId, to, toId, ids.filter((t) => t !== typeId));
      }
    }
  }

  /** A purged record (GDPR delete) loses its associations for good. */
  purge(objectTypeId: string, id: number): void {
    for (const to of this.#pairsFrom(objectTypeId)) {
      const targets = this.#targets(objectTypeId, to, id);
      if (!targets) continue;
      for (const toId of [...targets.keys()]) this.#write(objectTypeId, id, to, toId, []);
    }
  }

  /** Back to a fresh portal: no associations, only HubSpot's default labels. */
  reset(): void {
    this.#edges.clear();
    this.types = new AssociationTypeRegistry(this.#typeOptions);
  }
}

const attached = new WeakMap<Store, AssociationStore>();

/**
 * The association store of a portal, created on first use and kept in step with the record store's
 * life-cycle events: a merge re-points the loser's associations to the winner, a GDPR purge drops the
 * record's associations for good, a reset empties it.
 * Archive/restore need nothing here: reads hide archived records, so a restore brings them back.
 */
export function associationsOf(store: Store): AssociationStore {
  let assoc = attached.get(store);
  if (assoc) return assoc;
  const record = (typeId: string, id: number) => store.typeState(typeId).records.get(String(id));
  const created = new AssociationStore({
    exists: (typeId, id) => record(typeId, id) !== undefined,
    isArchived: (typeId, id) => record(typeId, id)?.archived === true,
  });
  store.on("merge", (e) => created.merge(e.type.objectTypeId, Number(e.winnerId), Number(e.loserId)));
  store.on("purge", (e) => created.purge(e.type.objectTypeId, Number(e.id)));
  store.on("reset", () => created.reset());
  attached.set(store, created);
  return created;
}

/**
 * Makes association writes bump both records' last-modified (HubSpot, as far as
 * anyone has observed, does not: an association change alone leaves lastmodifieddate as it was).
 * Off by default; the server's `associationsBumpLastModified` option turns it on.
 */
export function setAssociationsBumpLastModified(store: Store, on: boolean): void {
  const assoc = associationsOf(store);
  assoc.setTouchHandler(
    on
      ? (typeId, id) => {
          const type = store.resolveType(typeId);
          if (type) store.updateRecord(type, String(id), {});
        }
      : undefined,
  );
}
