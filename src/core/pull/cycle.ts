import { runDiscovery } from "../schema/discover.ts";
import { listEnabledObjects, loadObject } from "../schema/objects.ts";
import { pullArchived } from "./archived.ts";
import { backfill, type BackfillOptions } from "./backfill.ts";
import type { SyncContext } from "../context.ts";
import { pullIncremental, type IncrementalOptions } from "./incremental.ts";
import type { RunSummary } from "../runs.ts";

export interface CycleOptions {
  backfill?: BackfillOptions;
  incremental?: IncrementalOptions;
  /** Also read the archived list (deletes) after the incremental pass. */
  archived?: boolean;
}

export interface ObjectCycle {
  objectType: string;
  phase: string;
  runs: Array<{ kind: string } & Pick<RunSummary, "records" | "requests" | "rateLimited" | "ms">>;
  error?: string;
}

/**
 * Brings one object as far as it can go now: discovery if it is new (or failed), the backfill if
 * it has not finished, then an incremental pass (and the archived list). What `hubsync sync`
 * runs in-process; the worker runs the same steps as separate tasks.
 */
export async function cycleObject(deps: SyncContext, objectType: string, opts: CycleOptions = {}): Promise<ObjectCycle> {
  const out: ObjectCycle = { objectType, phase: "", runs: [] };
  const note = (kind: string, r: RunSummary) => out.runs.push({ kind, records: r.records, requests: r.requests, rateLimited: r.rateLimited, ms: r.ms });
  try {
    let row = await loadObject(deps.pool, objectType);
    if (!row.enabled || row.phase === "disabled") {
      out.phase = row.phase;
      return out;
    }
    if (row.phase === "discovering" || row.phase === "error") {
      note("discover", await runDiscovery(deps, objectType));
      row = await loadObject(deps.pool, objectType);
    }
    if (row.phase === "backfilling") {
      note("backfill", await backfill(deps, objectType, opts.backfill));
      row = await loadObject(deps.pool, objectType);
    }
    if (row.phase === "live") {
      note("incremental", await pullIncremental(deps, objectType, opts.incremental));
      if (opts.archived !== false && row.kind === "crm") note("archived", await pullArchived(deps, objectType));
    }
    out.phase = (await loadObject(deps.pool, objectType)).phase;
  } catch (err) {
    out.error = err instanceof Error ? err.message : String(err);
    deps.log.error({ objectType, err: out.error }, "sync cycle failed");
  }
  return out;
}

/**
 * One cycle over the named objects (default: every enabled one), a few objects at a time (they
 * share the rate budget, so running side by side only fills it better). Owners and pipelines go
 * last: pipelines follow the enabled custom objects.
 */
export async function cycleAll(deps: SyncContext, objects: string[] | null, opts: CycleOptions & { parallel?: number } = {}): Promise<ObjectCycle[]> {
  const names = objects?.length ? objects : (await listEnabledObjects(deps.pool)).map((o) => o.object_type);
  const crm = names.filter((n) => n !== "owners" && n !== "pipelines");
  const results = new Map<string, ObjectCycle>();
  let next = 0;
  const lane = async () => {
    while (next < crm.length) {
      const name = crm[next++]!;
      results.set(name, await cycleObject(deps, name, opts));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.parallel ?? 3, crm.length)) }, lane));
  for (const name of names.filter((n) => n === "owners" || n === "pipelines")) results.set(name, await cycleObject(deps, name, opts));
  return names.map((n) => results.get(n)!);
}
