import type { ObjectTypeDef } from "./object-types.ts";
import type { Store, StoredRecord } from "./store.ts";

/**
 * HubSpot's lists (now called segments) in the simulated portal: definitions and memberships.
 *
 * - MANUAL lists change only through the membership calls (add, remove, add-and-remove).
 * - DYNAMIC lists follow their filter: every record of the list's type is re-evaluated when it is
 *   created, changed, archived, restored or merged, and joins or leaves the list by itself.
 * - SNAPSHOT lists are filled from their filter once, when created, and then behave like MANUAL
 *   lists (HubSpot's membership calls accept MANUAL and SNAPSHOT lists alike).
 *
 * The filters understood are property filters (filterType PROPERTY) inside OR / AND branches, with
 * the operators a simple segment uses (equal, not equal, contains, starts/ends with, any/none of,
 * known/unknown, number comparisons). Any other filter never matches; HubSpot has many more
 * (events, form submissions, associations), which the simulator does not evaluate.
 *
 * Each record's join time is kept: the join-order listing pages memberships by it, and adding a
 * record that is already a member changes nothing (its join time stays the first one).
 */

export const PROCESSING_TYPES = ["MANUAL", "DYNAMIC", "SNAPSHOT"] as const;
export type ProcessingType = (typeof PROCESSING_TYPES)[number];

export interface SimList {
  readonly listId: string;
  readonly idNum: number;
  name: string;
  readonly objectTypeId: string;
  readonly processingType: ProcessingType;
  filterBranch: FilterBranch | null;
  listVersion: number;
  readonly createdAt: number;
  updatedAt: number;
  filtersUpdatedAt: number;
  deletedAt: number | null;
  /** Record id → when it joined (ms). */
  readonly members: Map<string, number>;
  lastRecordAddedAt: number | null;
  lastRecordRemovedAt: number | null;
}

export interface FilterBranch {
  filterBranchType?: string;
  filterBranchOperator?: string;
  filterBranches?: FilterBranch[];
  filters?: Filter[];
}

export interface Filter {
  filterType?: string;
  property?: string;
  operation?: {
    operationType?: string;
    operator?: string;
    value?: unknown;
    values?: unknown[];
    includeObjectsWithNoValueSet?: boolean;
  };
}

/** Whether a record's properties pass one property filter. */
function passesFilter(f: Filter, props: Readonly<Record<string, string>>): boolean {
  if (f.filterType !== "PROPERTY" || !f.property || !f.operation) return false;
  const op = f.operation;
  const raw = props[f.property];
  const known = raw !== undefined && raw !== null && raw !== "";
  const operator = (op.operator ?? "").toUpperCase();
  if (operator === "IS_KNOWN") return known;
  if (operator === "IS_UNKNOWN") return !known;
  if (!known) return op.includeObjectsWithNoValueSet === true;
  const v = String(raw);
  const want = op.value === undefined || op.value === null ? "" : String(op.value);
  const values = (op.values ?? []).map((x) => String(x).toLowerCase());
  if (op.operationType === "NUMBER") {
    const a = Number(v);
    const b = Number(op.value);
    switch (operator) {
      case "IS_EQUAL_TO": return a === b;
      case "IS_NOT_EQUAL_TO": return a !== b;
      case "IS_GREATER_THAN": return a > b;
      case "IS_GREATER_THAN_OR_EQUAL_TO": return a >= b;
      case "IS_LESS_THAN": return a < b;
      case "IS_LESS_THAN_OR_EQUAL_TO": return a <= b;
      default: return false;
    }
  }
  // String, enumeration and boolean values compare as HubSpot stores them, without regard to case.
  const s = v.toLowerCase();
  const w = want.toLowerCase();
  switch (operator) {
    case "IS_EQUAL_TO": return s === w;
    case "IS_NOT_EQUAL_TO": return s !== w;
    case "CONTAINS": return s.includes(w);
    case "DOES_NOT_CONTAIN": return !s.includes(w);
    case "STARTS_WITH": return s.startsWith(w);
    case "ENDS_WITH": return s.endsWith(w);
    case "IS_ANY_OF": return s.split(";").some((x) => values.includes(x));
    case "IS_NONE_OF": return !s.split(";").some((x) => values.includes(x));
    default: return false;
  }
}

/** OR: any filter or child branch passes; AND (and anything else): all of them do. An empty branch passes nothing. */
export function passesBranch(b: FilterBranch, props: Readonly<Record<string, string>>): boolean {
  const results = [...(b.filters ?? []).map((f) => passesFilter(f, props)), ...(b.filterBranches ?? []).map((c) => passesBranch(c, props))];
  if (results.length === 0) return false;
  return b.filterBranchType === "OR" ? results.some(Boolean) : results.every(Boolean);
}

export class ListsState {
  private readonly lists = new Map<string, SimList>();
  private nextId = 1;
  private readonly store: Store;

  /** Whether the record events are followed yet: only once a list exists, so a portal without lists pays nothing per write. */
  private following = false;

  constructor(store: Store) {
    this.store = store;
    store.on("reset", () => {
      this.lists.clear();
      this.nextId = 1;
    });
  }

  private follow(): void {
    if (this.following) return;
    this.following = true;
    const store = this.store;
    store.on("create", ({ type, record }) => this.evaluate(type, record));
    store.on("update", ({ type, record }) => this.evaluate(type, record));
    store.on("restore", ({ type, id }) => {
      const r = store.getRecord(type, id);
      if (r) this.evaluate(type, r);
    });
    store.on("archive", ({ type, id }) => this.dropRecord(type, [id]));
    store.on("purge", ({ type, id }) => this.dropRecord(type, [id]));
    store.on("merge", ({ type, newId, goneIds }) => {
      // The merged-away records leave every list; the survivor takes their places in manual lists.
      for (const l of this.of(type)) {
        if (!goneIds.some((id) => l.members.has(id))) continue;
        if (l.processingType !== "DYNAMIC" && !l.members.has(newId)) this.add(l, newId);
        this.remove(l, goneIds.filter((id) => id !== newId));
      }
      const survivor = store.getRecord(type, newId);
      if (survivor) this.evaluate(type, survivor);
    });
  }

  private now(): number {
    return this.store.clock.now();
  }

  all(): SimList[] {
    return [...this.lists.values()].sort((a, b) => a.idNum - b.idNum);
  }

  get(listId: string): SimList | undefined {
    return this.lists.get(listId);
  }

  byName(objectTypeId: string, name: string): SimList | undefined {
    const n = name.toLowerCase();
    return this.all().find((l) => l.deletedAt === null && l.objectTypeId === objectTypeId && l.name.toLowerCase() === n);
  }

  private of(type: ObjectTypeDef): SimList[] {
    return this.all().filter((l) => l.deletedAt === null && l.objectTypeId === type.objectTypeId);
  }

  create(input: { name: string; objectTypeId: string; processingType: ProcessingType; filterBranch: FilterBranch | null }): SimList {
    const at = this.now();
    const idNum = this.nextId++;
    const list: SimList = {
      listId: String(idNum),
      idNum,
      name: input.name,
      objectTypeId: input.objectTypeId,
      processingType: input.processingType,
      filterBranch: input.processingType === "MANUAL" ? null : input.filterBranch,
      listVersion: 1,
      createdAt: at,
      updatedAt: at,
      filtersUpdatedAt: at,
      deletedAt: null,
      members: new Map(),
      lastRecordAddedAt: null,
      lastRecordRemovedAt: null,
    };
    this.follow();
    this.lists.set(list.listId, list);
    if (list.filterBranch) this.reprocess(list);
    return list;
  }

  /** Re-evaluates every record of the list's type against its filter (creation, a filter change). */
  reprocess(list: SimList): void {
    if (!list.filterBranch) return;
    const type = this.store.resolveType(list.objectTypeId);
    if (!type) return;
    const matching = this.store.recordList(type, false).filter((r) => passesBranch(list.filterBranch!, r.properties));
    const want = new Set(matching.map((r) => r.id));
    for (const r of matching) if (!list.members.has(r.id)) this.add(list, r.id);
    this.remove(list, [...list.members.keys()].filter((id) => !want.has(id)));
  }

  setFilters(list: SimList, branch: FilterBranch): void {
    list.filterBranch = branch;
    list.filtersUpdatedAt = list.updatedAt = this.now();
    list.listVersion++;
    if (list.processingType === "DYNAMIC") this.reprocess(list);
  }

  rename(list: SimList, name: string): void {
    list.name = name;
    list.updatedAt = this.now();
    list.listVersion++;
  }

  /** Deleted lists keep their definition (a restore brings them back) but lose their members. */
  delete(list: SimList): void {
    list.deletedAt = this.now();
    list.updatedAt = list.deletedAt;
    list.members.clear();
  }

  restore(list: SimList): void {
    list.deletedAt = null;
    list.updatedAt = this.now();
    if (list.processingType === "DYNAMIC") this.reprocess(list);
  }

  /** Adds records not yet in the list; returns the ids it added. */
  add(list: SimList, ...ids: string[]): string[] {
    const added: string[] = [];
    for (const id of ids) {
      if (list.members.has(id)) continue;
      const at = this.now();
      list.members.set(id, at);
      list.lastRecordAddedAt = at;
      added.push(id);
    }
    if (added.length > 0) list.updatedAt = this.now();
    return added;
  }

  /** Removes records that are members; returns the ids it removed. */
  remove(list: SimList, ids: string[]): string[] {
    const removed = ids.filter((id) => list.members.delete(id));
    if (removed.length > 0) list.lastRecordRemovedAt = list.updatedAt = this.now();
    return removed;
  }

  /** Members in join order (join time, then record id): the order the join-order listing pages by. */
  joinOrder(list: SimList): Array<{ recordId: string; joinedAt: number }> {
    return [...list.members].map(([recordId, joinedAt]) => ({ recordId, joinedAt })).sort((a, b) => a.joinedAt - b.joinedAt || Number(a.recordId) - Number(b.recordId));
  }

  private evaluate(type: ObjectTypeDef, record: StoredRecord): void {
    for (const l of this.of(type)) {
      if (l.processingType !== "DYNAMIC" || !l.filterBranch) continue;
      const passes = !record.archived && passesBranch(l.filterBranch, record.properties);
      if (passes && !l.members.has(record.id)) this.add(l, record.id);
      else if (!passes && l.members.has(record.id)) this.remove(l, [record.id]);
    }
  }

  private dropRecord(type: ObjectTypeDef, ids: string[]): void {
    for (const l of this.of(type)) this.remove(l, ids);
  }
}
