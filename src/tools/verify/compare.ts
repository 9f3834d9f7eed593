import type pg from "pg";
import type { SimulatorControl } from "../../simulator/control-client.ts";
import type { Store } from "../../simulator/store.ts";
import { convertValue, type PgType } from "../../core/schema/mapping.ts";
import { quoteIdent } from "../../core/schema/naming.ts";

/**
 * Record-by-record comparison of hubsync's copy with the simulator's portal: the check every
 * fault test, the soak and the bench end with. Every live record must be in its table exactly
 * once with the typed columns holding what a pull would have written (HubSpot's strings through
 * src/core/schema/mapping.ts, compared in SQL with the column's own type), archived records must be
 * gone (or marked, per on_archive), and nothing else may be there. HubSpot's side is checked for
 * duplicated creates too: two live records carrying one hubsync_local_id.
 */

/** The simulator, through its control API (over HTTP) or its in-process store (fast for 100k records). */
export type SimulatorSource = SimulatorControl | Store | { control?: SimulatorControl; store?: Store };

export interface CompareOptions {
  /** Also compare the association tables among the given types (needs the control API). */
  associations?: boolean;
  /** Compare typed column values (default true); false checks ids only (a copy without hubsync.columns). */
  values?: boolean;
  /** The table of a type (default: hubspot.<hubsync.objects.table_name>). */
  tableOf?: (objectType: string) => Promise<string>;
  /** Property naming the local row a HubSpot record was created from; null turns the duplicate-create check off. */
  createKey?: string | null;
  /** Rows without a HubSpot id (local inserts not pushed) are a failure unless this is set. */
  allowPendingLocal?: boolean;
  /** Examples kept per list (default 10); the counts are always complete. */
  maxExamples?: number;
}

export interface Mismatch {
  id: string;
  property: string;
  /** HubSpot's value as the column would hold it (text form), or null. */
  hubspot: string | null;
  postgres: string | null;
}

export interface TypeDiff {
  objectType: string;
  table: string;
  /** Live records in the simulator. */
  expected: number;
  /** Rows of the table with a HubSpot id. */
  rows: number;
  /** Typed columns compared. */
  columns: number;
  missing: string[];
  extra: string[];
  /** Ids twice in the table, and HubSpot records that duplicate an earlier create (same createKey). */
  duplicated: string[];
  /** Archived in HubSpot but still in the table (on_archive 'delete') or present without archived_at ('mark'). */
  archivedPresent: string[];
  mismatched: Mismatch[];
  /** Counts (the lists above hold at most maxExamples each). */
  counts: { missing: number; extra: number; duplicated: number; archivedPresent: number; mismatched: number };
  /** Rows without a HubSpot id. */
  pendingLocal: number;
  ok: boolean;
}

export interface AssociationDiff {
  table: string;
  expected: number;
  rows: number;
  missing: Array<[string, string]>;
  extra: Array<[string, string]>;
  counts: { missing: number; extra: number };
  ok: boolean;
}

export interface Comparison {
  ok: boolean;
  types: TypeDiff[];
  associations: AssociationDiff[];
  /** Records compared (live records of every type). */
  records: number;
  summary: string;
}

interface SimRecord {
  id: string;
  properties: Record<string, string | null>;
}

interface Reader {
  records(objectType: string, archived: boolean): Promise<SimRecord[]>;
  control: SimulatorControl | null;
}

function reader(source: SimulatorSource): Reader {
  const store = "recordList" in source ? (source as Store) : "store" in source ? (source.store ?? null) : null;
  const control = "listRecords" in source ? (source as SimulatorControl) : "control" in source ? (source.control ?? null) : null;
  if (store) {
    return {
      control,
      async records(objectType, archived) {
        const def = store.resolveType(objectType);
        if (!def) throw new Error(`compare: the simulator has no object type ${objectType}`);
        return store.recordList(def, archived).map((r) => ({ id: r.id, properties: r.properties }));
      },
    };
  }
  if (!control) throw new Error("compare: give the simulator's control client or its store");
  return { control, records: (objectType, archived) => control.listRecords(objectType, { archived }) };
}

interface ColumnRow {
  property_name: string;
  column_name: string;
  pg_type: PgType;
}

const CHUNK = 2_000;

export async function compareWithSimulator(pool: pg.Pool, source: SimulatorSource, objectTypes: string[], opts: CompareOptions = {}): Promise<Comparison> {
  const sim = reader(source);
  const types: TypeDiff[] = [];
  for (const objectType of objectTypes) types.push(await compareType(pool, sim, objectType, opts));
  const associations = opts.associations ? await compareAssociations(pool, sim, objectTypes, opts) : [];
  const ok = types.every((t) => t.ok) && associations.every((a) => a.ok);
  const records = types.reduce((n, t) => n + t.expected, 0);
  return { ok, types, associations, records, summary: summarise(ok, types, associations, records) };
}

async function objectConfig(pool: pg.Pool, objectType: string): Promise<{ table: string | null; onArchive: "delete" | "mark" }> {
  const { rows } = await pool.query<{ table_name: string | null; on_archive: "delete" | "mark" }>(
    `select table_name, on_archive from hubsync.objects where object_type = $1`,
    [objectType],
  );
  return { table: rows[0]?.table_name ? `hubspot.${quoteIdent(rows[0].table_name)}` : null, onArchive: rows[0]?.on_archive ?? "delete" };
}

async function compareType(pool: pg.Pool, sim: Reader, objectType: string, opts: CompareOptions): Promise<TypeDiff> {
  const max = opts.maxExamples ?? 10;
  // a table given by the caller may live in a database without hubsync (the bench's naive copy)
  const config = opts.tableOf ? { table: await opts.tableOf(objectType), onArchive: "delete" as const } : await objectConfig(pool, objectType);
  const table = config.table;
  if (!table) throw new Error(`compare: ${objectType} has no table in hubsync.objects (not enabled, or not discovered yet)`);
  const columns =
    opts.values === false
      ? []
      : (
          await pool.query<ColumnRow>(
            `select property_name, column_name, pg_type from hubsync.columns where object_type = $1 and archived_at is null order by column_name`,
            [objectType],
          )
        ).rows;

  const live = await sim.records(objectType, false);
  const archived = await sim.records(objectType, true);
  const liveIds = new Set(live.map((r) => r.id));
  const archivedIds = new Set(archived.map((r) => r.id));

  const marking = config.onArchive === "mark";
  const { rows: present } = await pool.query<{ id: string | null; n: number; marked: boolean }>(
    marking
      ? `select id, count(*)::int as n, bool_or(archived_at is not null) as marked from ${table} group by id`
      : `select id, count(*)::int as n, false as marked from ${table} group by id`,
  );
  const counts = { missing: 0, extra: 0, duplicated: 0, archivedPresent: 0, mismatched: 0 };
  const diff: TypeDiff = {
    objectType, table, expected: live.length, rows: 0, columns: columns.length,
    missing: [], extra: [], duplicated: [], archivedPresent: [], mismatched: [], counts, pendingLocal: 0, ok: false,
  };
  const note = <T>(list: T[], key: keyof typeof counts, item: T) => {
    counts[key]++;
    if (list.length < max) list.push(item);
  };

  const seen = new Map<string, boolean>();
  for (const r of present) {
    if (r.id === null) {
      diff.pendingLocal += r.n;
      continue;
    }
    diff.rows += r.n;
    seen.set(r.id, r.marked);
    if (r.n > 1) note(diff.duplicated, "duplicated", r.id);
    if (liveIds.has(r.id)) {
      if (r.marked) note(diff.mismatched, "mismatched", { id: r.id, property: "archived_at", hubspot: null, postgres: "set" });
    } else if (archivedIds.has(r.id)) {
      if (!marking || !r.marked) note(diff.archivedPresent, "archivedPresent", r.id);
    } else {
      note(diff.extra, "extra", r.id);
    }
  }
  for (const r of live) if (!seen.has(r.id)) note(diff.missing, "missing", r.id);

  if (opts.createKey !== null) {
    const key = opts.createKey ?? "hubsync_local_id";
    const first = new Map<string, string>();
    for (const r of live) {
      const v = r.properties[key];
      if (!v) continue;
      if (first.has(v)) note(diff.duplicated, "duplicated", r.id);
      else first.set(v, r.id);
    }
  }

  if (columns.length > 0) {
    const inTable = live.filter((r) => seen.has(r.id));
    for (let i = 0; i < inTable.length; i += CHUNK) {
      for (const m of await compareValues(pool, table, columns, inTable.slice(i, i + CHUNK))) note(diff.mismatched, "mismatched", m);
    }
  }
  diff.ok =
    counts.missing + counts.extra + counts.duplicated + counts.archivedPresent + counts.mismatched === 0 &&
    (opts.allowPendingLocal === true || diff.pendingLocal === 0);
  return diff;
}

/** The typed columns of `records` against HubSpot's values converted as a pull converts them, compared with each column's type. */
async function compareValues(pool: pg.Pool, table: string, columns: ColumnRow[], records: SimRecord[]): Promise<Mismatch[]> {
  const docs = records.map((r) => {
    const doc: Record<string, unknown> = { id: r.id };
    columns.forEach((c, i) => (doc[`c${i}`] = convertValue(r.properties[c.property_name], c.pg_type)));
    return doc;
  });
  const defs = columns.map((c, i) => `c${i} ${c.pg_type}`).join(", ");
  const differs = columns.map((c, i) => `case when x.c${i} is distinct from t.${quoteIdent(c.column_name)} then ${i} end`).join(", ");
  // Only rows that differ come back, with both sides in text form for the report.
  const { rows } = await pool.query<{ id: string; cols: number[]; want: Array<string | null>; got: Array<string | null> }>(
    `select id, cols, want, got
       from (select x.id, array_remove(array[${differs}], null) as cols,
                    array[${columns.map((_, i) => `x.c${i}::text`).join(", ")}] as want,
                    array[${columns.map((c) => `t.${quoteIdent(c.column_name)}::text`).join(", ")}] as got
               from jsonb_to_recordset($1::jsonb) as x(id text, ${defs})
               join ${table} t on t.id = x.id) d
      where cardinality(cols) > 0`,
    [JSON.stringify(docs)],
  );
  const out: Mismatch[] = [];
  for (const r of rows) {
    for (const col of r.cols) out.push({ id: r.id, property: columns[col]!.property_name, hubspot: r.want[col] ?? null, postgres: r.got[col] ?? null });
  }
  return out;
}

async function compareAssociations(pool: pg.Pool, sim: Reader, objectTypes: string[], opts: CompareOptions): Promise<AssociationDiff[]> {
  if (!sim.control) throw new Error("compare: association tables are compared through the simulator's control API");
  const max = opts.maxExamples ?? 10;
  const { rows: pairs } = await pool.query<{ table_name: string; a_type: string; b_type: string; a_column: string; b_column: string }>(
    `select table_name, a_type, b_type, a_column, b_column from hubsync.association_pairs
      where a_type = any($1::text[]) and b_type = any($1::text[]) order by table_name`,
    [objectTypes],
  );
  const out: AssociationDiff[] = [];
  for (const p of pairs) {
    if (!(await tableExists(pool, p.table_name))) continue;
    const expected = new Set((await sim.control.listAssociations(p.a_type, p.b_type)).map((a) => `${a.fromId}\u0000${a.toId}`));
    const { rows } = await pool.query<{ a: string; b: string }>(
      `select ${quoteIdent(p.a_column)} as a, ${quoteIdent(p.b_column)} as b from hubspot.${quoteIdent(p.table_name)} where ${quoteIdent(p.a_column)} is not null and ${quoteIdent(p.b_column)} is not null`,
    );
    const have = new Set(rows.map((r) => `${r.a}\u0000${r.b}`));
    const diff: AssociationDiff = { table: p.table_name, expected: expected.size, rows: have.size, missing: [], extra: [], counts: { missing: 0, extra: 0 }, ok: false };
    const split = (k: string) => k.split("\u0000") as [string, string];
    for (const k of expected) if (!have.has(k)) { diff.counts.missing++; if (diff.missing.length < max) diff.missing.push(split(k)); }
    for (const k of have) if (!expected.has(k)) { diff.counts.extra++; if (diff.extra.length < max) diff.extra.push(split(k)); }
    diff.ok = diff.counts.missing === 0 && diff.counts.extra === 0;
    out.push(diff);
  }
  return out;
}

async function tableExists(pool: pg.Pool, table: string): Promise<boolean> {
  const { rows } = await pool.query<{ ok: boolean }>(`select to_regclass($1) is not null as ok`, [`hubspot.${quoteIdent(table)}`]);
  return rows[0]?.ok ?? false;
}

function summarise(ok: boolean, types: TypeDiff[], associations: AssociationDiff[], records: number): string {
  const parts = types.map((t) => {
    if (t.ok) return `${t.objectType} ${t.rows}/${t.expected} ok`;
    const c = t.counts;
    const bits: string[] = [];
    const eg = (n: number, label: string, list: string[]) => n > 0 && bits.push(`${n} ${label} (e.g. ${list.slice(0, 3).join(", ")})`);
    eg(c.missing, "missing", t.missing);
    eg(c.extra, "extra", t.extra);
    eg(c.duplicated, "duplicated", t.duplicated);
    eg(c.archivedPresent, "archived but present", t.archivedPresent);
    eg(c.mismatched, "mismatched", t.mismatched.map((m) => `${m.id}.${m.property}: HubSpot ${JSON.stringify(m.hubspot)} vs ${JSON.stringify(m.postgres)}`));
    if (t.pendingLocal > 0) bits.push(`${t.pendingLocal} rows without a HubSpot id`);
    return `${t.objectType} ${t.rows}/${t.expected}: ${bits.join(", ")}`;
  });
  for (const a of associations) {
    if (a.ok) parts.push(`${a.table} ${a.rows}/${a.expected} ok`);
    else parts.push(`${a.table} ${a.rows}/${a.expected}: ${a.counts.missing} missing, ${a.counts.extra} extra`);
  }
  return `${ok ? "converged" : "DIVERGED"}: ${records} records compared; ${parts.join("; ")}`;
}
