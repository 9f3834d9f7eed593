/**
 * Every job of a worker process runs on one event loop. A page of 100 records with hundreds of
 * properties takes tens of milliseconds of CPU to check, hash and serialise; done in one go,
 * whatever else waits on the loop (a push someone committed a moment ago, a webhook, another
 * type's pull) waits that long, once for every page of every reader in turn. With a backfill
 * running, a push's round of a few queries and one batch call took seconds that way. Loops over
 * records therefore give the loop back every few milliseconds.
 */
const SLICE_MS = 4;

/** Gives the event loop back: what waits on I/O runs before the caller goes on. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** `fn` over `items` in order, giving the event loop back whenever a slice has run SLICE_MS. */
export async function mapInSlices<T, U>(items: readonly T[], fn: (item: T, index: number) => U): Promise<U[]> {
  const out: U[] = [];
  let sliceStart = performance.now();
  for (let i = 0; i < items.length; i++) {
    out.push(fn(items[i]!, i));
    if (performance.now() - sliceStart >= SLICE_MS) {
      await yieldToLoop();
      sliceStart = performance.now();
    }
  }
  return out;
}
