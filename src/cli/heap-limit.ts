import { getHeapStatistics } from "node:v8";
import { HEAP_SIZE_FLAG, maxHeapSetting } from "../core/config.ts";
import { log } from "../core/log.ts";

/**
 * The young generation's share of the limit: 3 semi-spaces of this many MB. V8 sizes them from the
 * machine's memory too (up to 64 MB each, 192 MB in all, on its own); a worker that parses pages of
 * records allocates fast and would fill them, so they are bounded as well.
 */
const SEMI_SPACE_MB = 16;

/** The node flags that make V8's heap limit (heap_size_limit) `mb` megabytes. */
export function heapFlags(mb: number): string[] {
  // V8 rounds a semi-space to a power of two; a twelfth of the limit at most keeps the old space the larger part
  let semi = SEMI_SPACE_MB;
  while (semi > 1 && semi * 12 > mb) semi /= 2;
  return [`--max-semi-space-size=${semi}`, `--max-old-space-size=${mb - 3 * semi}`];
}

/**
 * glibc's malloc settings the worker restarts with, unless the operator set them. What a backfill
 * holds outside V8's heap (the answers' buffers, the queries' parameters: about a megabyte per page of
 * wide records) is allocated and freed by glibc, and two of its defaults let that memory grow far
 * past what is live. Each thread that allocates may get an arena of its own (up to eight per core),
 * and freed memory in one arena is not reused by another. And after a large block is freed, glibc
 * raises the size from which it maps blocks separately instead of carving them from an arena (up
 * to 32 MB), so the next page-sized buffers land in the arenas and leave holes there. Two arenas
 * and the threshold fixed at glibc's own starting value (128 kB) took a worker's peak RSS during
 * the backfill of 47,000 wide records from 258-294 MB to 221-229 MB. Other C libraries ignore these
 * variables.
 */
export const MALLOC_ENV = { MALLOC_ARENA_MAX: "2", MALLOC_MMAP_THRESHOLD_: "131072" } as const;

/** The heap limit this process runs with, in MB (what V8 reports). */
export function heapLimitMb(): number {
  return Math.round(getHeapStatistics().heap_size_limit / 1024 / 1024);
}

/**
 * Makes this process run with the heap limit HUBSYNC_MAX_HEAP_MB asks for (see maxHeapSetting).
 * V8 fixes its heap limits when the process starts, so the only way to set them from inside is to
 * start again with the flags: process.execve replaces this process in place (same pid, same
 * stdio), so a supervisor's signals and the kernel's memory accounting still reach the worker,
 * and no parent is left to forward signals or to outlive it. Returns only when no restart is
 * needed (the flags are already there, or no limit is asked for); a bad value throws before
 * anything runs. Called before the command loads its modules (src/cli/main.ts).
 */
export function applyHeapLimit(): void {
  const mb = maxHeapSetting();
  if (mb === null) return;
  const flags = heapFlags(mb);
  if (flags.every((f) => process.execArgv.includes(f))) return;
  const cannot = (why: string) =>
    log.warn({ heapLimitMb: heapLimitMb(), wanted: mb, why }, `cannot set the heap limit here; set NODE_OPTIONS="${flags.join(" ")}" instead`);
  // Windows has no execve; the operator can still set the flags through NODE_OPTIONS.
  if (typeof process.execve !== "function") return cannot("no execve on this platform");
  // Command-line flags win over NODE_OPTIONS, so an older limit there does not undo these.
  const keep = process.execArgv.filter((a) => !HEAP_SIZE_FLAG.test(a));
  try {
    process.execve(process.execPath, [process.execPath, ...keep, ...flags, ...process.argv.slice(1)], { ...MALLOC_ENV, ...process.env });
  } catch (err) {
    // e.g. a sandbox that forbids execve: run on with Node's limit rather than not at all
    cannot(err instanceof Error ? err.message : String(err));
  }
}
