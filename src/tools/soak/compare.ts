import type pg from "pg";
import type { BenchSim } from "../shared/sim.ts";
import { compareWithSimulator, type Comparison } from "../verify/compare.ts";

/** The record-by-record comparison (src/tools/verify/), reduced to what the soak reports: counts per table and a few examples. */
export interface TableComparison {
  table: string;
  expected: number;
  missing: number;
  extra: number;
  duplicated: number;
  archivedPresent: number;
  mismatched: number;
  examples: string[];
}

export interface CopyComparison {
  clean: boolean;
  /** compareWithSimulator's one line ("converged: …" or "DIVERGED: …"). */
  summary: string;
  /** The same without the tables that matched. */
  short: string;
  records: number;
  tables: TableComparison[];
}

const EXAMPLES = 5;

/**
 * Every synced type's records and typed values, and the association tables among them. Rows not yet
 * created in HubSpot (id null) count as a failure: after quiescence every insert must have been sent.
 */
export async function compareCopy(pool: pg.Pool, sim: BenchSim, types: readonly string[]): Promise<CopyComparison> {
  const c = await compareWithSimulator(pool, { control: sim.control, store: sim.store }, [...types], { associations: true, maxExamples: EXAMPLES });
  return reduce(c);
}

function reduce(c: Comparison): CopyComparison {
  const tables: TableComparison[] = c.types.map((t) => ({
    table: t.table,
    expected: t.expected,
    ...t.counts,
    examples: [
      ...t.missing.map((id) => `missing ${id}`),
      ...t.extra.map((id) => `extra ${id}`),
      ...t.duplicated.map((id) => `duplicated ${id}`),
      ...t.archivedPresent.map((id) => `archived in HubSpot, still present: ${id}`),
      ...t.mismatched.map((m) => `${m.id}.${m.property}: HubSpot ${JSON.stringify(m.hubspot)}, PostgreSQL ${JSON.stringify(m.postgres)}`),
      ...(t.pendingLocal ? [`${t.pendingLocal} row(s) without a HubSpot id`] : []),
    ].slice(0, EXAMPLES),
  }));
  for (const a of c.associations) {
    tables.push({
      table: a.table,
      expected: a.expected,
      missing: a.counts.missing,
      extra: a.counts.extra,
      duplicated: 0,
      archivedPresent: 0,
      mismatched: 0,
      examples: [...a.missing.map(([x, y]) => `missing pair ${x}–${y}`), ...a.extra.map(([x, y]) => `extra pair ${x}–${y}`)].slice(0, EXAMPLES),
    });
  }
  const short = c.ok
    ? `every record and association pair matches (${c.records.toLocaleString("en-US")} records, ${tables.length} tables)`
    : c.summary
        .split("; ")
        .filter((part) => !/ ok$/.test(part))
        .join("; ");
  return { clean: c.ok, summary: c.summary, short, records: c.records, tables };
}
