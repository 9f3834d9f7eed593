import { buildProperty, defaultPropertiesFor, DYNAMIC_OPTION_PROPERTIES } from "./default-properties.ts";
import { customObjectType, standardObjectTypes, type ObjectTypeDef } from "./object-types.ts";
import { defaultPipelines } from "./default-pipelines.ts";
import { lowerBound, sortedInsert, sortedRemove, upperBound } from "./sorted.ts";

/**
 * The in-memory HubSpot portal behind the simulator: object types (standard and custom),
 * property definitions, records, owners and pipelines, with the indexes paging and search need.
 * It stores what it is given: validation and normalisation happen at the HTTP edge
 * (validation.ts), so seeders and the control API can write here directly.
 *
 * Other modules (associations) follow record life cycles through `store.on(...)`.
 */

// The stored shapes live in types.ts; re-exported for the modules that take them from here.
import type { ObjectTypeInput, Owner, Pipeline, PropertyDefinition, PropertyType, SearchView, StoredRecord } from "./types.ts";
export type { Owner, Pipeline, PipelineStage, PropertyDefinition, PropertyOption, PropertyType, SearchView, StoredRecord } from "./types.ts";

export interface StoreEvents {
  create: { type: ObjectTypeDef; record: StoredRecord };
  /**
   * `changed`: the properties whose value the update really changed (system stamps excluded);
   * `previousUpdatedAt`: the last-modified time the record had before.
   */
  update: { type: ObjectTypeDef; record: StoredRecord; changed: string[]; previousUpdatedAt: number };
  /** A record went to the recycle bin (archived = true). */
  archive: { type: ObjectTypeDef; id: string };
  restore: { type: ObjectTypeDef; id: string };
  /**
   * Records merged into `newId`: `goneIds` no longer exist, and whatever pointed at them should now
   * point at `newId` (the primary's own id when the primary survives, else a record made by the merge).
   */
  merge: { type: ObjectTypeDef; primaryId: string; secondaryId: string; newId: string; goneIds: string[] };
  /** Permanently deleted (GDPR): gone from live and archived lists alike. */
  purge: { type: ObjectTypeDef; id: string };
  /** The whole portal was emptied back to its defaults. */
  reset: Record<string, never>;
}

type Listener<K extends keyof StoreEvents> = (event: StoreEvents[K]) => void;

/** Milliseconds since the epoch that never go backwards (several events may share one). */
export class Clock {
  private last = 0;
  now(): number {
    const t = Date.now();
    if (t > this.last) this.last = t;
    return this.last;
  }
}

export interface WriteOptions {
  /** Timestamp (ms) to record instead of now: a change "made" at that moment. */
  at?: number;
  /** Who made the change, as property history shows it (default: an API call). */
  source?: { type: string; id?: string; userId?: number };
}

const byId = (a: StoredRecord, b: StoredRecord): number => a.idNum - b.idNum;

/** Replaces a list's contents in place (the lists are read-only fields; a spread would overflow the stack at a million). */
function refill(list: StoredRecord[], from: StoredRecord[]): void {
  list.length = 0;
  for (const r of from) list.push(r);
}
const byModified = (a: StoredRecord, b: StoredRecord): number => a.updatedAt - b.updatedAt || a.idNum - b.idNum;

/** Records and indexes of one object type. */
export class TypeState {
  readonly properties = new Map<string, PropertyDefinition>();
  readonly records = new Map<string, StoredRecord>();
  /** Live (not archived) records in id order: list paging. */
  readonly live: StoredRecord[] = [];
  /** Archived records in id order: `archived=true` paging. */
  readonly archivedList: StoredRecord[] = [];
  /** Live records by (updatedAt, id): search on the last-modified property. */
  readonly byModified: StoredRecord[] = [];
  /** Unique-value property → value → record id (live records only). */
  readonly unique = new Map<string, Map<string, string>>();
  /** Merged-away id → the id it was merged into. */
  readonly merged = new Map<string, string>();
  /** Records changed within the index lag: id → when (wall ms) and what search still sees. */
  readonly lagging = new Map<string, { changedAt: number; view: SearchView | null }>();
  /** Names indexed in `unique`, cached; null after a definition change. */
  uniqueNames: string[] | null = null;
  def: ObjectTypeDef;
  constructor(def: ObjectTypeDef) {
    this.def = def;
  }
}

export interface StoreOptions {
  portalId?: number;
}

export class Store {
  readonly portalId: number;
  readonly clock = new Clock();
  /** Search sees changes this many ms late (set by the server's configuration). */
  indexLagMs = 0;
  /**
   * Merging two contacts or two companies makes a third record with a new id, as HubSpot has done
   * since it changed merges of those types; other types (and this switch off) keep the primary's id.
   */
  mergeCreatesNewRecord = true;
  private types = new Map<string, TypeState>();
  private typeAliases = new Map<string, string>();
  private nextRecordId = 1;
  private nextCustomTypeId = 1;
  private owners = new Map<string, Owner>();
  private pipelines = new Map<string, Pipeline[]>();
  /** While seeding: the types whose sorted lists endBulkLoad rebuilds (beginBulkLoad). */
  private bulkLoaded: Set<TypeState> | null = null;
  private listeners: { [K in keyof StoreEvents]: Listener<K>[] } = {
    create: [], update: [], archive: [], restore: [], merge: [], purge: [], reset: [],
  };

  constructor(options: StoreOptions = {}) {
    this.portalId = options.portalId ?? 62515;
    this.initialise();
  }

  // ---- events ---------------------------------------------------------------------------

  /** Subscribe to a life-cycle event; returns the unsubscribe function. */
  on<K extends keyof StoreEvents>(name: K, fn: Listener<K>): () => void {
    const list = this.listeners[name] as Listener<K>[];
    list.push(fn);
    return () => {
      const at = list.indexOf(fn);
      if (at >= 0) list.splice(at, 1);
    };
  }

  private emit<K extends keyof StoreEvents>(name: K, event: StoreEvents[K]): void {
    for (const fn of this.listeners[name] as Listener<K>[]) fn(event);
  }

  // ---- portal life cycle ------------------------------------------------------------------

  /** Back to an empty portal with the default types, properties and pipelines. */
  reset(): void {
    this.initialise();
    this.emit("reset", {});
  }

  private initialise(): void {
    this.types.clear();
    this.typeAliases.clear();
    this.owners.clear();
    this.pipelines.clear();
    this.nextRecordId = 1;
    this.nextCustomTypeId = 1;
    for (const def of standardObjectTypes()) this.registerType(def);
    for (const [typeName, list] of Object.entries(defaultPipelines())) {
      this.setPipelines(typeName, list);
    }
  }

  /** Record ids are allocated portal-wide and only grow, so id order is creation order. */
  allocateId(): string {
    return String(this.nextRecordId++);
  }

  // ---- object types ---------------------------------------------------------------------

  private registerType(def: ObjectTypeDef): TypeState {
    const state = new TypeState(def);
    for (const p of defaultPropertiesFor(def)) state.properties.set(p.name, p);
    this.types.set(def.objectTypeId, state);
    const aliases = [def.objectTypeId, def.name, def.singular, def.fullyQualifiedName];
    for (const alias of aliases) if (alias) this.typeAliases.set(alias.toLowerCase(), def.objectTypeId);
    this.refreshDynamicOptions(state);
    return state;
  }

  /** Accepts "contacts", "contact", "0-1", a custom name, "p123_cars" or "2-7". */
  resolveType(ref: string): ObjectTypeDef | undefined {
    const id = this.typeAliases.get(ref.toLowerCase());
    return id ? this.types.get(id)?.def : undefined;
  }

  objectTypes(): ObjectTypeDef[] {
    return [...this.types.values()].map((s) => s.def);
  }

  /** The mutable state of a type (records and indexes), for search and routes. */
  typeState(type: ObjectTypeDef | string): TypeState {
    const id = typeof type === "string" ? (this.resolveType(type)?.objectTypeId ?? type) : type.objectTypeId;
    const state = this.types.get(id);
    if (!state) throw new Error(`unknown object type ${typeof type === "string" ? type : type.name}`);
    return state;
  }

  createObjectType(input: ObjectTypeInput<Partial<PropertyDefinition> & { name: string; type: PropertyType }>): ObjectTypeDef {
    const now = this.clock.now();
    const def = customObjectType({
      objectTypeId: `2-${this.nextCustomTypeId++}`,
      name: input.name.toLowerCase(),
      portalId: this.portalId,
      labels: input.labels,
      primaryDisplayProperty: input.primaryDisplayProperty ?? null,
      secondaryDisplayProperties: input.secondaryDisplayProperties ?? [],
      searchableProperties: input.searchableProperties ?? [],
      requiredProperties: input.requiredProperties ?? [],
      now,
    });
    const state = this.registerType(def);
    for (const p of input.properties ?? []) this.createProperty(def, p);
    return state.def;
  }

  // ---- property definitions ---------------------------------------------------------------

  /** Every definition of a type, archived ones included. */
  propertyDefinitions(type: ObjectTypeDef): PropertyDefinition[] {
    return [...this.typeState(type).properties.values()];
  }

  /** A live (not archived) definition, or undefined. */
  property(type: ObjectTypeDef, name: string): PropertyDefinition | undefined {
    const p = this.typeState(type).properties.get(name);
    return p && !p.archived ? p : undefined;
  }

  createProperty(type: ObjectTypeDef, input: Partial<PropertyDefinition> & { name: string; type: PropertyType }): PropertyDefinition {
    const state = this.typeState(type);
    const iso = new Date(this.clock.now()).toISOString();
    const base = buildProperty(
      { name: input.name, type: input.type, fieldType: input.fieldType, label: input.label, unique: input.hasUniqueValue },
      input.groupName ?? `${type.singular}information`,
      false,
      iso,
    );
    const def: PropertyDefinition = {
      ...base,
      ...input,
      hubspotDefined: false,
      createdAt: iso,
      updatedAt: iso,
      archived: false,
      options: (input.options ?? []).map((o, i) => ({ ...o, description: o.description ?? "", displayOrder: o.displayOrder ?? i, hidden: o.hidden ?? false })),
      modificationMetadata: { archivable: true, readOnlyDefinition: false, readOnlyValue: input.calculated ?? false },
    };
    delete def.archivedAt;
    state.properties.set(def.name, def);
    if (def.hasUniqueValue) this.rebuildUniqueIndex(state, def.name);
    return def;
  }

  updateProperty(type: ObjectTypeDef, name: string, patch: Partial<PropertyDefinition>): PropertyDefinition | undefined {
    const state = this.typeState(type);
    const current = state.properties.get(name);
    if (!current || current.archived) return undefined;
    const next: PropertyDefinition = { ...current, ...patch, name, updatedAt: new Date(this.clock.now()).toISOString() };
    state.properties.set(name, next);
    if (next.hasUniqueValue && !current.hasUniqueValue) this.rebuildUniqueIndex(state, name);
    if (!next.hasUniqueValue) state.unique.delete(name);
    state.uniqueNames = null;
    return next;
  }

  archiveProperty(type: ObjectTypeDef, name: string): boolean {
    const state = this.typeState(type);
    const current = state.properties.get(name);
    if (!current || current.archived) return false;
    const iso = new Date(this.clock.now()).toISOString();
    state.properties.set(name, { ...current, archived: true, archivedAt: iso, updatedAt: iso });
    state.unique.delete(name);
    state.uniqueNames = null;
    return true;
  }

  /** Properties whose values identify a record: hasUniqueValue ones, plus email for contacts. */
  isIdProperty(type: ObjectTypeDef, name: string): boolean {
    if (name === "hs_object_id") return true;
    if (type.name === "contacts" && name === "email") return true;
    return this.property(type, name)?.hasUniqueValue === true;
  }

  private uniqueKeys(state: TypeState): string[] {
    if (state.uniqueNames) return state.uniqueNames;
    const keys: string[] = [];
    for (const p of state.properties.values()) if (p.hasUniqueValue && !p.archived) keys.push(p.name);
    if (state.def.name === "contacts") keys.push("email");
    state.uniqueNames = keys;
    return keys;
  }

  private rebuildUniqueIndex(state: TypeState, name: string): void {
    state.uniqueNames = null;
    const index = new Map<string, string>();
    for (const r of state.live) {
      const v = r.properties[name];
      if (v !== undefined && v !== "") index.set(uniqueKey(name, v), r.id);
    }
    state.unique.set(name, index);
  }

  /** Live record holding `value` in a unique property (emails compare case-insensitively). */
  findByUnique(type: ObjectTypeDef, name: string, value: string): StoredRecord | undefined {
    const state = this.typeState(type);
    if (name === "hs_object_id") {
      const r = state.records.get(value);
      return r && !r.archived ? r : undefined;
    }
    let index = state.unique.get(name);
    if (!index) {
      if (!this.isIdProperty(type, name)) return undefined;
      this.rebuildUniqueIndex(state, name);
      index = state.unique.get(name)!;
    }
    const id = index.get(uniqueKey(name, value));
    return id ? state.records.get(id) : undefined;
  }

  // ---- records -----------------------------------------------------------------------------

  getRecord(type: ObjectTypeDef, id: string): StoredRecord | undefined {
    return this.typeState(type).records.get(id);
  }

  /** Where a merged-away id went (following chains of merges), or undefined. */
  mergedInto(type: ObjectTypeDef, id: string): string | undefined {
    const merged = this.typeState(type).merged;
    let target = merged.get(id);
    for (let hops = 0; target && merged.has(target) && hops < 100; hops++) target = merged.get(target);
    return target;
  }

  /** Live or archived records, in id order. */
  recordList(type: ObjectTypeDef, archived: boolean): readonly StoredRecord[] {
    const state = this.typeState(type);
    return archived ? state.archivedList : state.live;
  }

  /** Records with id greater than `afterIdNum`, at most `limit` of them, in id order. */
  pageRecords(type: ObjectTypeDef, archived: boolean, afterIdNum: number, limit: number): { page: StoredRecord[]; more: boolean } {
    const list = this.recordList(type, archived);
    const start = upperBound(list, { idNum: afterIdNum } as StoredRecord, byId);
    const page = list.slice(start, start + limit);
    return { page, more: start + limit < list.length };
  }

  createRecord(type: ObjectTypeDef, properties: Record<string, string>, options: WriteOptions = {}): StoredRecord {
    const at = options.at ?? this.clock.now();
    const record = this.insertRecord(this.typeState(type), type, properties, at, at);
    this.emit("create", { type, record });
    return record;
  }

  /** A new live record with a fresh id, in every index. */
  private insertRecord(state: TypeState, type: ObjectTypeDef, properties: Record<string, string>, createdAt: number, updatedAt: number): StoredRecord {
    const id = this.allocateId();
    const record: StoredRecord = { id, idNum: Number(id), properties: {}, createdAt, updatedAt, archived: false, archivedAt: null };
    for (const [k, v] of Object.entries(properties)) if (v !== "") record.properties[k] = v;
    this.stampSystem(type, record, true);
    this.noteLag(state, id, null);
    state.records.set(id, record);
    this.indexInsert(state, state.live, record, byId);
    this.indexInsert(state, state.byModified, record, byModified);
    this.indexUnique(state, record, true);
    return record;
  }

  /**
   * Seeding: until endBulkLoad, the sorted lists (live, archived, by last-modified) are left alone
   * and rebuilt once at the end from the records. Seeded records carry random last-modified times
   * and the seed archives and merges thousands of them; moving a million-entry array for each of
   * those would take many minutes instead of seconds. Lookups by id and unique value still work
   * in between; listing and searching wait for endBulkLoad.
   */
  beginBulkLoad(): void {
    this.bulkLoaded ??= new Set();
  }

  endBulkLoad(): void {
    const states = this.bulkLoaded ?? new Set<TypeState>();
    this.bulkLoaded = null;
    for (const state of states) {
      const all = [...state.records.values()];
      refill(state.live, all.filter((r) => !r.archived).sort(byId));
      refill(state.archivedList, all.filter((r) => r.archived).sort(byId));
      refill(state.byModified, state.live.slice().sort(byModified));
    }
  }

  private indexInsert(state: TypeState, list: StoredRecord[], record: StoredRecord, cmp: (a: StoredRecord, b: StoredRecord) => number): void {
    if (this.bulkLoaded) this.bulkLoaded.add(state);
    else sortedInsert(list, record, cmp);
  }

  private indexRemove(state: TypeState, list: StoredRecord[], record: StoredRecord, cmp: (a: StoredRecord, b: StoredRecord) => number): void {
    if (this.bulkLoaded) this.bulkLoaded.add(state);
    else sortedRemove(list, record, cmp);
  }

  /** Applies property changes like a user edit: "" clears, last-modified moves to `at`/now. */
  updateRecord(type: ObjectTypeDef, id: string, changes: Record<string, string>, options: WriteOptions = {}): StoredRecord | undefined {
    const state = this.typeState(type);
    const record = state.records.get(id);
    if (!record) return undefined;
    const previousUpdatedAt = record.updatedAt;
    this.noteLag(state, id, record.archived ? null : viewOf(record));
    if (!record.archived) {
      this.indexUnique(state, record, false);
      this.indexRemove(state, state.byModified, record, byModified);
    }
    const changed: string[] = [];
    const at = options.at ?? this.clock.now();
    for (const [k, v] of Object.entries(changes)) {
      if ((record.properties[k] ?? "") !== v) {
        changed.push(k);
        this.noteVersion(record, k, v, at, options.source);
      }
      if (v === "") delete record.properties[k];
      else record.properties[k] = v;
    }
    record.updatedAt = at;
    this.stampSystem(type, record, false);
    if (!record.archived) {
      this.indexInsert(state, state.byModified, record, byModified);
      this.indexUnique(state, record, true);
    }
    this.emit("update", { type, record, changed, previousUpdatedAt });
    return record;
  }

  /** A new version of a property; its first change also keeps the value it had since creation. */
  private noteVersion(record: StoredRecord, name: string, value: string, at: number, source: WriteOptions["source"]): void {
    const history = (record.history ??= {});
    let versions = history[name];
    if (!versions) {
      const before = record.properties[name];
      versions = history[name] = before === undefined ? [] : [{ value: before, at: record.createdAt, sourceType: "API" }];
    }
    versions.push({
      value,
      at,
      sourceType: source?.type ?? "API",
      ...(source?.id !== undefined ? { sourceId: source.id } : {}),
      ...(source?.userId !== undefined ? { updatedByUserId: source.userId } : {}),
    });
  }

  /** Many records modified in the same millisecond (a workflow or import touching them). */
  touchRecords(type: ObjectTypeDef, ids: string[], at: number): number {
    let n = 0;
    for (const id of ids) if (this.updateRecord(type, id, {}, { at })) n++;
    return n;
  }

  /** Moves a record to the recycle bin. Last-modified does not move (as in HubSpot). */
  archiveRecord(type: ObjectTypeDef, id: string, options: WriteOptions = {}): boolean {
    const state = this.typeState(type);
    const record = state.records.get(id);
    if (!record || record.archived) return false;
    this.noteLag(state, id, viewOf(record));
    this.indexUnique(state, record, false);
    this.indexRemove(state, state.live, record, byId);
    this.indexRemove(state, state.byModified, record, byModified);
    record.archived = true;
    record.archivedAt = options.at ?? this.clock.now();
    this.indexInsert(state, state.archivedList, record, byId);
    this.emit("archive", { type, id });
    return true;
  }

  restoreRecord(type: ObjectTypeDef, id: string): boolean {
    const state = this.typeState(type);
    const record = state.records.get(id);
    if (!record || !record.archived) return false;
    this.noteLag(state, id, null);
    this.indexRemove(state, state.archivedList, record, byId);
    record.archived = false;
    record.archivedAt = null;
    this.indexInsert(state, state.live, record, byId);
    this.indexInsert(state, state.byModified, record, byModified);
    this.indexUnique(state, record, true);
    this.emit("restore", { type, id });
    return true;
  }

  /**
   * Merges `secondaryId` into `primaryId`. Contacts and companies (with `mergeCreatesNewRecord`)
   * become a new record with a new id: the primary's values, blanks filled from the secondary, the
   * earlier create date; both old ids are gone and resolve to it. Other types keep the primary,
   * which fills its blanks from the secondary. Either way the result lists every id it absorbed in
   * hs_merged_object_ids and is modified now.
   */
  mergeRecords(type: ObjectTypeDef, primaryId: string, secondaryId: string, options: WriteOptions = {}): StoredRecord | undefined {
    const state = this.typeState(type);
    const primary = state.records.get(primaryId);
    const secondary = state.records.get(secondaryId);
    if (!primary || !secondary || primary.archived || secondary.archived || primary === secondary) return undefined;
    const mintsNewId = this.mergeCreatesNewRecord && !type.custom && (type.name === "contacts" || type.name === "companies");
    const mergedIds = [
      ...(primary.properties.hs_merged_object_ids?.split(";") ?? []),
      ...(mintsNewId ? [primaryId] : []),
      secondaryId,
      ...(secondary.properties.hs_merged_object_ids?.split(";") ?? []),
    ].filter(Boolean);
    const system = new Set(["hs_object_id", type.createdProperty, type.lastModifiedProperty, "hs_merged_object_ids", "hs_calculated_merged_vids"]);
    const changes: Record<string, string> = { hs_merged_object_ids: mergedIds.join(";") };
    for (const [k, v] of Object.entries(secondary.properties)) {
      if (!system.has(k) && (mintsNewId || primary.properties[k] === undefined)) changes[k] = v;
    }
    if (mintsNewId) for (const [k, v] of Object.entries(primary.properties)) if (!system.has(k)) changes[k] = v;
    if (type.name === "contacts") changes.hs_calculated_merged_vids = mergedIds.map((m) => `${m}:${secondary.createdAt}`).join(";");
    // The old records' unique values (e.g. email) must be free before the result may take them.
    this.removeRecord(state, secondary);
    if (!mintsNewId) {
      state.merged.set(secondaryId, primaryId);
      const result = this.updateRecord(type, primaryId, changes, options);
      this.emit("merge", { type, primaryId, secondaryId, newId: primaryId, goneIds: [secondaryId] });
      return result;
    }
    this.removeRecord(state, primary);
    const at = options.at ?? this.clock.now();
    const created = this.insertRecord(state, type, changes, Math.min(primary.createdAt, secondary.createdAt), at);
    state.merged.set(primaryId, created.id);
    state.merged.set(secondaryId, created.id);
    this.emit("merge", { type, primaryId, secondaryId, newId: created.id, goneIds: [primaryId, secondaryId] });
    return created;
  }

  /** GDPR delete: the record is gone for good (not restorable, not in the archived list). */
  purgeRecord(type: ObjectTypeDef, id: string): boolean {
    const state = this.typeState(type);
    const record = state.records.get(id);
    if (!record) return false;
    this.removeRecord(state, record);
    this.emit("purge", { type, id });
    return true;
  }

  private removeRecord(state: TypeState, record: StoredRecord): void {
    this.noteLag(state, record.id, record.archived ? null : viewOf(record));
    if (record.archived) {
      this.indexRemove(state, state.archivedList, record, byId);
    } else {
      this.indexUnique(state, record, false);
      this.indexRemove(state, state.live, record, byId);
      this.indexRemove(state, state.byModified, record, byModified);
    }
    state.records.delete(record.id);
  }

  private stampSystem(type: ObjectTypeDef, record: StoredRecord, creating: boolean): void {
    const p = record.properties;
    p.hs_object_id = record.id;
    if (creating) p[type.createdProperty] = new Date(record.createdAt).toISOString();
    p[type.lastModifiedProperty] = new Date(record.updatedAt).toISOString();
  }

  private indexUnique(state: TypeState, record: StoredRecord, add: boolean): void {
    for (const name of this.uniqueKeys(state)) {
      const v = record.properties[name];
      if (v === undefined || v === "") continue;
      let index = state.unique.get(name);
      if (!index) {
        index = new Map();
        state.unique.set(name, index);
      }
      const key = uniqueKey(name, v);
      if (add) index.set(key, record.id);
      else if (index.get(key) === record.id) index.delete(key);
    }
  }

  // ---- search index lag ------------------------------------------------------------------

  /** Remembers what search saw before a change, while the change is younger than the lag. */
  private noteLag(state: TypeState, id: string, before: SearchView | null): void {
    if (this.indexLagMs <= 0) return;
    const wall = Date.now();
    const entry = state.lagging.get(id);
    if (entry && wall - entry.changedAt < this.indexLagMs) {
      entry.changedAt = wall;
      return;
    }
    state.lagging.set(id, { changedAt: wall, view: before });
  }

  /** Lagging records of a type (expired entries dropped): id → the view search still sees. */
  laggingViews(type: ObjectTypeDef): Map<string, SearchView | null> {
    const state = this.typeState(type);
    const out = new Map<string, SearchView | null>();
    if (state.lagging.size === 0) return out;
    const wall = Date.now();
    for (const [id, entry] of state.lagging) {
      if (this.indexLagMs <= 0 || wall - entry.changedAt >= this.indexLagMs) state.lagging.delete(id);
      else out.set(id, entry.view);
    }
    return out;
  }

  /** Live records with updatedAt in [from, to] (inclusive, ms), in (updatedAt, id) order. */
  modifiedRange(type: ObjectTypeDef, from: number, to: number): { list: readonly StoredRecord[]; start: number; end: number } {
    const list = this.typeState(type).byModified;
    const start = lowerBound(list, { updatedAt: from, idNum: -Infinity } as StoredRecord, byModified);
    const end = upperBound(list, { updatedAt: to, idNum: Infinity } as StoredRecord, byModified);
    return { list, start, end: Math.max(start, end) };
  }

  /** Live records with idNum in [from, to], in id order. */
  idRange(type: ObjectTypeDef, from: number, to: number): { list: readonly StoredRecord[]; start: number; end: number } {
    const list = this.typeState(type).live;
    const start = lowerBound(list, { idNum: from } as StoredRecord, byId);
    const end = upperBound(list, { idNum: to } as StoredRecord, byId);
    return { list, start, end: Math.max(start, end) };
  }

  // ---- owners ------------------------------------------------------------------------------

  addOwner(input: Partial<Owner> & { email: string }): Owner {
    const now = this.clock.now();
    const id = input.id ?? String(100000 + this.owners.size + 1);
    const userId = input.userId ?? 5000000 + this.owners.size + 1;
    const archived = input.archived ?? false;
    const owner: Owner = {
      id,
      email: input.email,
      firstName: input.firstName ?? null,
      lastName: input.lastName ?? null,
      userId: archived ? null : userId,
      userIdIncludingInactive: input.userIdIncludingInactive ?? userId,
      type: input.type ?? "PERSON",
      teams: input.teams ?? [],
      createdAt: input.createdAt ?? now,
      updatedAt: input.updatedAt ?? now,
      archived,
    };
    this.owners.set(id, owner);
    for (const state of this.types.values()) this.refreshDynamicOptions(state);
    return owner;
  }

  /** Owners in id order. */
  ownerList(): Owner[] {
    return [...this.owners.values()].sort((a, b) => Number(a.id) - Number(b.id));
  }

  getOwner(id: string): Owner | undefined {
    return this.owners.get(id);
  }

  // ---- pipelines ---------------------------------------------------------------------------

  pipelinesOf(type: ObjectTypeDef): Pipeline[] {
    return this.pipelines.get(type.objectTypeId) ?? [];
  }

  setPipelines(typeRef: string, list: Pipeline[]): void {
    const type = this.resolveType(typeRef);
    if (!type) throw new Error(`unknown object type ${typeRef}`);
    this.pipelines.set(type.objectTypeId, list);
    this.refreshDynamicOptions(this.typeState(type));
  }

  /** Owner and pipeline properties are enumerations whose options come from the portal. */
  private refreshDynamicOptions(state: TypeState): void {
    const setOptions = (name: string, values: { value: string; label: string }[]): void => {
      const p = state.properties.get(name);
      if (!p) return;
      p.options = values.map((v, i) => ({ label: v.label, value: v.value, description: "", displayOrder: i, hidden: false }));
    };
    const owners = [...this.owners.values()];
    setOptions(DYNAMIC_OPTION_PROPERTIES.owner, owners.map((o) => ({ value: o.id, label: `${o.firstName ?? ""} ${o.lastName ?? ""}`.trim() || (o.email ?? o.id) })));
    const live = (this.pipelines.get(state.def.objectTypeId) ?? []).filter((p) => !p.archived);
    const pipelines = live.map((p) => ({ value: p.id, label: p.label }));
    const stages = live.flatMap((p) => p.stages.filter((s) => !s.archived).map((s) => ({ value: s.id, label: s.label })));
    if (state.def.name === "deals") {
      setOptions(DYNAMIC_OPTION_PROPERTIES.dealPipeline, pipelines);
      setOptions(DYNAMIC_OPTION_PROPERTIES.dealStage, stages);
    } else if (state.def.name === "tickets") {
      setOptions(DYNAMIC_OPTION_PROPERTIES.ticketPipeline, pipelines);
      setOptions(DYNAMIC_OPTION_PROPERTIES.ticketStage, stages);
    }
  }
}

function uniqueKey(name: string, value: string): string {
  return name === "email" ? value.toLowerCase() : value;
}

function viewOf(record: StoredRecord): SearchView {
  return { id: record.id, idNum: record.idNum, properties: { ...record.properties }, createdAt: record.createdAt, updatedAt: record.updatedAt };
}
