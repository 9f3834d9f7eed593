import type pg from "pg";
import { quoteIdent } from "../../core/schema/naming.ts";
import { compareWithSimulator } from "../verify/compare.ts";
import { SYNCED_TYPES } from "../shared/objects.ts";
import type { BenchSim } from "../shared/sim.ts";

/**
 * Did a copy lose or duplicate a record? Every live record of the simulator must be in the table
 * exactly once, and the table must hold nothing the simulator does not: src/tools/verify/compare.ts's
 * record-by-record check, on ids only (the naive script's changes reach HubSpot while hubsync's
 * worker is stopped, so values may lag), read from the in-process store.
 */
export interface CopyCheck {
  name: string;
  expected: number;
  missing: number;
  duplicated: number;
  extra: number;
  ok: boolean;
}

export async function checkCopy(pool: pg.Pool, sim: BenchSim, name: string, tableOf: (type: string) => Promise<string>): Promise<CopyCheck> {
  const types = SYNCED_TYPES.map((t) => t.type);
  // hubsync's copy is also checked for creates HubSpot holds twice; the naive script makes none
  const r = await compareWithSimulator(pool, sim.store, types, { values: false, tableOf, allowPendingLocal: true, createKey: name === "hubsync" ? undefined : null });
  const sum = (f: (c: (typeof r.types)[number]["counts"]) => number) => r.types.reduce((n, t) => n + f(t.counts), 0);
  return {
    name,
    expected: r.records,
    missing: sum((c) => c.missing),
    duplicated: sum((c) => c.duplicated),
    // rows of records HubSpot archived count as extra, as any row HubSpot does not have live
    extra: sum((c) => c.extra + c.archivedPresent),
    ok: r.ok,
  };
}

export async function hubsyncTable(pool: pg.Pool, type: string): Promise<string> {
  const { rows } = await pool.query<{ table_name: string | null }>(`select table_name from hubsync.objects where object_type = $1`, [type]);
  if (!rows[0]?.table_name) throw new Error(`bench: ${type} has no hubspot table`);
  return `hubspot.${quoteIdent(rows[0].table_name)}`;
}
