import type { ObjectTypeDef } from "./object-types.ts";
import type { SearchView, Store, StoredRecord } from "./store.ts";

/**
 * Two ways HubSpot's search misbehaves on real portals, reproduced on demand (faults.searchStaleRate,
 * faults.searchShortPageRate):
 *
 * - A record changed recently can still sit in the index at its previous last-modified position
 *   while the hit carries the record as it is now: new values and a last-modified time later than
 *   its neighbours, possibly later than the query's upper bound. Connector authors see this for
 *   minutes up to about an hour. Here a chosen fraction of updates leaves such an entry at the old
 *   position for `searchStaleMs`, besides the record's entry at its new position. A client that
 *   moves its cursor to the newest time on a page jumps over everything in between.
 * - A page can come back shorter than the limit (even empty) and still carry `paging.next`: the
 *   rest of the results are behind the cursor. A client that stops on a short page stops early.
 *
 * Which updates go stale is a hash of the record id, its previous time and the fault seed, so a
 * seeded run meets the same disorder every time.
 */

/** A search view served at an index position other than the record's own. */
export interface StaleView extends SearchView {
  /** What the hit carries: the record as it is now. */
  readonly document: StoredRecord;
}

interface StaleEntry {
  id: string;
  /** The old last-modified time the entry still sorts and filters by. */
  at: number;
  /** Wall-clock ms when the index catches up and the entry goes away. */
  until: number;
}

export interface StaleSettings {
  rate: number;
  ms: number;
  seed: number;
}

class SearchFaultState {
  settings: StaleSettings = { rate: 0, ms: 0, seed: 0 };
  private entries = new Map<string, StaleEntry[]>();

  constructor(store: Store) {
    store.on("update", (e) => {
      const before = e.previousUpdatedAt;
      if (this.settings.rate <= 0 || before === e.record.updatedAt || e.record.archived) return;
      if (unitHash(`${e.type.objectTypeId}/${e.record.id}@${before}#${this.settings.seed}`) >= this.settings.rate) return;
      const list = this.entries.get(e.type.objectTypeId) ?? [];
      list.push({ id: e.record.id, at: before, until: Date.now() + this.settings.ms });
      this.entries.set(e.type.objectTypeId, list);
    });
    store.on("reset", () => this.entries.clear());
  }

  /** The live stale entries of a type as search views (expired ones and gone records dropped). */
  views(store: Store, type: ObjectTypeDef): StaleView[] {
    const list = this.entries.get(type.objectTypeId);
    if (!list || list.length === 0) return [];
    const wall = Date.now();
    const out: StaleView[] = [];
    const kept: StaleEntry[] = [];
    for (const entry of list) {
      if (entry.until <= wall) continue;
      const record = store.getRecord(type, entry.id);
      if (!record) continue;
      kept.push(entry);
      if (record.archived) continue;
      out.push({ id: record.id, idNum: record.idNum, properties: record.properties, createdAt: record.createdAt, updatedAt: entry.at, document: record });
    }
    this.entries.set(type.objectTypeId, kept);
    return out;
  }
}

const attached = new WeakMap<Store, SearchFaultState>();

function stateOf(store: Store): SearchFaultState {
  let state = attached.get(store);
  if (!state) {
    state = new SearchFaultState(store);
    attached.set(store, state);
  }
  return state;
}

/** Turns stale index entries on (rate > 0) or off, for the updates from now on. */
export function setSearchStaleEntries(store: Store, settings: StaleSettings): void {
  stateOf(store).settings = settings;
}

/** Stale entries search must serve besides the index, for one type. */
export function staleViews(store: Store, type: ObjectTypeDef): StaleView[] {
  const state = attached.get(store);
  return state ? state.views(store, type) : [];
}

/** What a hit carries: a stale view's current record, or the view itself. */
export function documentOf(view: SearchView): SearchView | StoredRecord {
  return "document" in view ? (view as StaleView).document : view;
}

/**
 * A page cut short: the first 0 to n − 1 of its views (pages of two or more; a page of one cut to
 * nothing again and again would never end), and the offset where the rest start, which the
 * answer's `paging.next.after` must point at so nothing is lost to a client that follows it.
 */
export function shortPage<T>(views: T[], offset: number, random: () => number): { views: T[]; nextAfter: number } {
  const keep = Math.floor(random() * views.length);
  return { views: views.slice(0, keep), nextAfter: offset + keep };
}

/** A stable number in [0, 1) for a string (FNV-1a). */
function unitHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 4294967296;
}
