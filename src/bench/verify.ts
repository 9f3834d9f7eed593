import type pg from "pg";
import { quoteIdent } from "../schema/naming.ts";
import { SYNCED_TYPES } from "./objects.ts";
import type { BenchSim } from "./sim.ts";

/**
 * Did a copy lose or duplicate a record? Every live record of the simulator must be in the table
 * exactly once, and the table must hold nothing the simulator does not.
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
  let expected = 0;
  let missing = 0;
  let duplicated = 0;
  let extra = 0;
  for (const { type } of SYNCED_TYPES) {
    const simIds = new Set((await sim.records(type)).map((r) => r.id));
    expected += simIds.size;
    const table = await tableOf(type);
    const { rows } = await pool.query<{ id: string; n: string }>(`select id, count(*) as n from ${table} where id is not null group by id`);
    const seen = new Set<string>();
    for (const r of rows) {
      seen.add(r.id);
      if (Number(r.n) > 1) duplicated += Number(r.n) - 1;
      if (!simIds.has(r.id)) extra++;
    }
    for (const id of simIds) if (!seen.has(id)) missing++;
  }
  return { name, expected, missing, duplicated, extra, ok: missing === 0 && duplicated === 0 && extra === 0 };
}

export async function hubsyncTable(pool: pg.Pool, type: string): Promise<string> {
  const { rows } = await pool.query<{ table_name: string | null }>(`select table_name from hubsync.objects where object_type = $1`, [type]);
  if (!rows[0]?.table_name) throw new Error(`bench: ${type} has no hubspot table`);
  return `hubspot.${quoteIdent(rows[0].table_name)}`;
}
