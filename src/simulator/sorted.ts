/**
 * Sorted arrays with binary search: the simulator's indexes. Inserting or removing is a memmove
 * (fast even at 100k+ entries); seeking a range is O(log n), which is what paging needs.
 */

export type Compare<T> = (a: T, b: T) => number;

/** First index whose element is not less than `probe`. */
export function lowerBound<T>(arr: readonly T[], probe: T, cmp: Compare<T>): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(arr[mid]!, probe) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose element is greater than `probe`. */
export function upperBound<T>(arr: readonly T[], probe: T, cmp: Compare<T>): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(arr[mid]!, probe) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function sortedInsert<T>(arr: T[], item: T, cmp: Compare<T>): void {
  const at = upperBound(arr, item, cmp);
  if (at === arr.length) arr.push(item);
  else arr.splice(at, 0, item);
}

/** Removes `item` (by identity) whose sort key is unchanged since it was inserted. */
export function sortedRemove<T>(arr: T[], item: T, cmp: Compare<T>): boolean {
  let at = lowerBound(arr, item, cmp);
  while (at < arr.length && cmp(arr[at]!, item) === 0) {
    if (arr[at] === item) {
      arr.splice(at, 1);
      return true;
    }
    at++;
  }
  const fallback = arr.indexOf(item);
  if (fallback >= 0) arr.splice(fallback, 1);
  return fallback >= 0;
}
