import type pg from "pg";
import { z } from "zod";
import type { Logger } from "pino";
import { inTransaction } from "../db/transaction.ts";
import { quoteIdent, tableNameFor, withSuffix } from "../schema/naming.ts";

/**
 * Object types HubSpot associates with records of their own type (same-object types 449–452, and
 * company parent/child 13/14). Other types get no same-type table.
 */
export const SAME_TYPE_ASSOCIATIONS = new Set(["contacts", "companies", "deals", "tickets"]);

/** An enabled, discovered CRM object type: one end of an association table. */
export interface PairEnd {
  objectType: string;
  objectTypeId: string;
  singular: string;
  table: string;
  phase: string;
}

export interface AssociationPair {
  /** Table in schema hubspot: associations_<a>_<b>. */
  table: string;
  a: PairEnd;
  b: PairEnd;
  aColumn: string;
  bColumn: string;
  sameType: boolean;
  /** Association type ids b→a → a→b, as learned so far (see type-map.ts). */
  typeMap: Record<string, number>;
}

const EndRow = z.object({
  object_type: z.string(),
  object_type_id: z.string(),
  singular_name: z.string(),
  table_name: z.string(),
  phase: z.string(),
});

/** Enabled CRM types whose tables exist (discovery done), by object type. */
export async function loadEnds(db: pg.Pool | pg.PoolClient): Promise<PairEnd[]> {
  const { rows } = await db.query(
    `select object_type, object_type_id, singular_name, table_name, phase from hubsync.objects
      where enabled and kind = 'crm' and object_type not in ('owners', 'pipelines')
        and object_type_id is not null and singular_name is not null and table_name is not null
      order by object_type`,
  );
  return rows.map((r) => {
    const e = EndRow.parse(r);
    return { objectType: e.object_type, objectTypeId: e.object_type_id, singular: e.singular_name, table: e.table_name, phase: e.phase };
  });
}

/**
 * The table and columns of the pair of two types: singular names in alphabetical order, so there
 * is one table per unordered pair and never one for the reverse order. Null when two different
 * types share a singular name (the table name could not say which is which).
 */
export function pairFor(x: PairEnd, y: PairEnd): Omit<AssociationPair, "typeMap"> | null {
  if (x.objectType === y.objectType) {
    const s = x.singular;
    return { table: tableNameFor(`associations_${s}_${s}`), a: x, b: x, aColumn: columnFor(`from_${s}`), bColumn: columnFor(`to_${s}`), sameType: true };
  }
  if (x.singular === y.singular) return null;
  const [a, b] = x.singular < y.singular ? [x, y] : [y, x];
  return { table: tableNameFor(`associations_${a.singular}_${b.singular}`), a, b, aColumn: columnFor(a.singular), bColumn: columnFor(b.singular), sameType: false };
}

function columnFor(singular: string): string {
  return withSuffix(tableNameFor(singular), "_id");
}

/** Every pair among `ends` (with `only` at one end, when given), same-type pairs where HubSpot has them. */
export function pairsAmong(ends: PairEnd[], only?: string): Array<Omit<AssociationPair, "typeMap">> {
  const out: Array<Omit<AssociationPair, "typeMap">> = [];
  for (let i = 0; i < ends.length; i++) {
    for (let j = i; j < ends.length; j++) {
      const x = ends[i]!;
      const y = ends[j]!;
      if (only && x.objectType !== only && y.objectType !== only) continue;
      if (i === j && !SAME_TYPE_ASSOCIATIONS.has(x.objectType)) continue;
      const p = pairFor(x, y);
      if (p) out.push(p);
    }
  }
  return out;
}

/**
 * Creates the association tables of `objectType` with every other discovered type (all pairs when
 * no type is given), registers them in hubsync.association_pairs, puts the cleanup triggers on both
 * object tables and lets write-back install its triggers. Idempotent; returns the pairs.
 */
export async function ensureAssociationTables(pool: pg.Pool, log: Logger, objectType?: string): Promise<AssociationPair[]> {
  const ends = await loadEnds(pool);
  if (objectType && !ends.some((e) => e.objectType === objectType)) return [];
  const pairs = pairsAmong(ends, objectType);
  // Fast path for the sweep: DDL (and the trigger locks on the object tables) only for what is missing.
  const { rows: present } = await pool.query<{ table_name: string }>(
    `select table_name from hubsync.association_pairs where to_regclass(format('hubspot.%I', table_name)) is not null`,
  );
  const ready = new Set(present.map((r) => r.table_name));
  const created: string[] = [];
  const missing = pairs.filter((x) => !ready.has(x.table));
  // Lock order: the pull writes an object table, then (merge/delete triggers) association tables.
  // So the triggers on object tables are installed first, each in a statement of its own holding no
  // other lock, and the association table is created in a transaction that touches no object table.
  for (const type of new Set(missing.flatMap((p) => [p.a.objectType, p.b.objectType]))) {
    await pool.query(`select hubsync._association_install_triggers($1)`, [type]);
  }
  for (const p of missing) {
    const isNew = await inTransaction(pool, async (client) => {
      await client.query(`select pg_advisory_xact_lock(hashtext('hubsync.associations:' || $1))`, [p.table]);
      const t = `hubspot.${quoteIdent(p.table)}`;
      const exists = await client.query(`select to_regclass($1) is not null as e`, [t]);
      await client.query(`
        create table if not exists ${t} (
          ${quoteIdent(p.aColumn)} text not null,
          ${quoteIdent(p.bColumn)} text not null,
          labels text[] not null default '{}',
          type_ids integer[] not null default '{}',
          primary key (${quoteIdent(p.aColumn)}, ${quoteIdent(p.bColumn)})
        )`);
      await client.query(`create index if not exists ${quoteIdent(withSuffix(p.table, `_${p.bColumn}_idx`))} on ${t} (${quoteIdent(p.bColumn)})`);
      await client.query(`comment on table ${t} is ${literal(commentFor(p))}`);
      await client.query(`do $$ begin
          if exists (select 1 from pg_roles where rolname = 'hubspot_reader') then grant select on ${t} to hubspot_reader; end if;
        end $$`);
      await client.query(
        `insert into hubsync.association_pairs (table_name, a_type, b_type, a_column, b_column) values ($1, $2, $3, $4, $5)
         on conflict (table_name) do update set a_type = excluded.a_type, b_type = excluded.b_type, a_column = excluded.a_column, b_column = excluded.b_column`,
        [p.table, p.a.objectType, p.b.objectType, p.aColumn, p.bColumn],
      );
      return !exists.rows[0].e;
    });
    if (isNew) created.push(p.table);
  }
  if (created.length) {
    // Write-back (sql/41_push_triggers.sql) puts its outbox triggers on association tables with a write-back type at one end.
    const types = new Set(pairs.filter((p) => created.includes(p.table)).flatMap((p) => [p.a.objectType, p.b.objectType]));
    for (const type of types) await pool.query(`select hubsync._refresh_write_back($1)`, [type]);
    log.info({ tables: created }, "association tables created");
  }
  return loadPairs(pool, objectType);
}

function commentFor(p: Omit<AssociationPair, "typeMap">): string {
  return p.sameType
    ? `HubSpot associations between ${p.a.objectType} records, one row per direction: labels and type_ids as seen from ${p.aColumn} to ${p.bColumn}`
    : `HubSpot associations between ${p.a.objectType} and ${p.b.objectType}: labels and type_ids in the ${p.a.singular} → ${p.b.singular} direction`;
}

function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

const PairRow = z.object({ table_name: z.string(), a_type: z.string(), b_type: z.string(), type_map: z.record(z.string(), z.number()) });

/** The registered pairs whose two types are both enabled and discovered (with `only` at one end). */
export async function loadPairs(db: pg.Pool | pg.PoolClient, only?: string): Promise<AssociationPair[]> {
  const ends = new Map((await loadEnds(db)).map((e) => [e.objectType, e]));
  const { rows } = await db.query(`select table_name, a_type, b_type, type_map from hubsync.association_pairs order by table_name`);
  const out: AssociationPair[] = [];
  for (const r of rows) {
    const row = PairRow.parse(r);
    if (only && row.a_type !== only && row.b_type !== only) continue;
    const a = ends.get(row.a_type);
    const b = ends.get(row.b_type);
    if (!a || !b) continue;
    const p = pairFor(a, b);
    if (!p || p.table !== row.table_name) continue;
    out.push({ ...p, typeMap: row.type_map });
  }
  return out;
}
