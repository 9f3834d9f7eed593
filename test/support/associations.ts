import type pg from "pg";
import type { AssociationPair } from "../../src/core/associations/pairs.ts";
import type { RunningSimulator } from "../../src/simulator/index.ts";

/** One row of an association table, as tests compare them. */
export interface AssociationRow {
  a: string;
  b: string;
  labels: string[];
  type_ids: number[];
}

export const byKey = (x: AssociationRow, y: AssociationRow) => (x.a === y.a ? (x.b < y.b ? -1 : x.b > y.b ? 1 : 0) : x.a < y.a ? -1 : 1);

/** What HubSpot (the simulator) has for a pair, a → b, as table rows. */
export async function expectedRows(sim: RunningSimulator, pair: AssociationPair): Promise<AssociationRow[]> {
  const listed = await sim.control.listAssociations(pair.a.objectTypeId, pair.b.objectTypeId);
  return listed
    .map((l) => ({
      a: l.fromId,
      b: l.toId,
      type_ids: [...new Set(l.types.map((t) => t.typeId))].sort((x, y) => x - y),
      labels: [...new Set(l.types.map((t) => t.label).filter((x): x is string => !!x))].sort(),
    }))
    .sort(byKey);
}

/** The pair's table, in the same form. */
export async function tableRows(pool: pg.Pool, pair: AssociationPair): Promise<AssociationRow[]> {
  const { rows } = await pool.query(`select "${pair.aColumn}" as a, "${pair.bColumn}" as b, labels, type_ids from hubspot."${pair.table}"`);
  return (rows as AssociationRow[]).map((r) => ({ ...r, labels: [...r.labels].sort() })).sort(byKey);
}
