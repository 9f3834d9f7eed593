import { getHeapStatistics } from "node:v8";
import { createSemaphore } from "../semaphore.ts";

/**
 * Records read from HubSpot and not yet written hold the worker's heap, and a backfill keeps many
 * pages in flight at once: each type's list reader and search readers fetch the next page while
 * the current one is written, and the worker runs several types' backfills side by side. On a
 * portal with a few hundred properties per record (HubSpot's own contacts have about 400) that was
 * enough to run `hubsync worker` out of its heap limit. Every page is therefore asked for here
 * before it is read, weighed in property values (records × properties), and given back once it
 * is written: pages wait for room instead of the process running out of memory.
 */

/**
 * Heap one property value costs while its page is held. A parsed record of 380 properties takes
 * about 23 KB (60 bytes a value); while a page is read, checked and written, the answer's text,
 * its validated copy and the upsert's parameters each add a share of that again.
 */
const BYTES_PER_VALUE = 200;
/** The share of the heap limit that pages in flight may take; the rest is the worker's own. */
const HEAP_SHARE = 0.3;

/** Property values the pages in flight may hold at once in this process. */
export const PAGE_MEMORY_VALUES = Math.floor((getHeapStatistics().heap_size_limit * HEAP_SHARE) / BYTES_PER_VALUE);

const budget = createSemaphore(PAGE_MEMORY_VALUES);

/** Waits until a page of `records` records of `properties` properties fits; call the result once it is written. */
export function holdPage(records: number, properties: number): Promise<() => void> {
  return budget.acquire(pageValues(records, properties));
}

/** What a page of `records` records of `properties` properties weighs here. */
export function pageValues(records: number, properties: number): number {
  return Math.max(1, records) * Math.max(1, properties);
}

/**
 * Reads a page once `values` property values fit (0: a page of ids, which waits for nothing), and
 * hands it back with the function that gives its room back once it is written. A read that fails
 * gives its room back itself.
 */
export async function readHeld<T extends object>(values: number, read: () => Promise<T>): Promise<T & { release: () => void }> {
  const release = values > 0 ? await budget.acquire(values) : () => {};
  try {
    return { ...(await read()), release };
  } catch (err) {
    release();
    throw err;
  }
}

/** Property values held by pages in flight now (for tests and the worker's own figures). */
export function pageMemoryHeld(): number {
  return budget.held();
}
