import type pg from "pg";
import { PausedError } from "../hubspot/errors.ts";
import { isReadOnlyProperty, type PropertyDef, type ObjectSchemaDef } from "../hubspot/schemas.ts";
import { inApplyingTransaction } from "../db/transaction.ts";
import type { SyncContext } from "../context.ts";
import { recordRun, type RunSummary } from "../runs.ts";
import { writeCursor } from "./cursors.ts";
import { convertValue, pgTypeFor, type PgType } from "./mapping.ts";
import { columnNameFor, quoteIdent, SYSTEM_COLUMNS, tableNameFor, withSuffix } from "./naming.ts";
import { CUSTOM_OBJECT_BASE_PROPERTIES, MERGED_IDS_PROPERTY, RESERVED_TABLE_NAMES, STANDARD_OBJECT_TYPES } from "./object-catalog.ts";
import { loadObject, type ObjectRow } from "./objects.ts";
import { ensureListTables, ensureOwnersTable, ensurePipelineTables } from "./fixed-tables.ts";
import { enumerationColumns, labeledViewExists, refreshLabeledView, writePropertyCatalog } from "./property-catalog.ts";

/**
 * Typed columns per table at most. PostgreSQL allows 1,600 columns, dropped ones included, and a
 * row of fixed-width values must fit in one 8 kB page; 1,000 typed columns plus hubsync's own stay
 * clear of both. Selected properties beyond this live only in `properties` jsonb (and are logged).
 */
export const MAX_TYPED_COLUMNS = 1000;

export interface ResolvedType {
  /** The name used in API paths: the standard plural name, or a custom object's type id. */
  apiName: string;
  objectTypeId: string;
  singular: string;
  lastModifiedProperty: string;
  tableName: string;
  defaultProperties: string[];
}

export interface DiscoveryResult {
  tableName: string;
  added: string[];
  archived: string[];
  retyped: string[];
  untyped: string[];
}

function customMatches(schema: ObjectSchemaDef, name: string): boolean {
  const n = name.toLowerCase();
  return [schema.name, schema.fullyQualifiedName, schema.objectTypeId, schema.labels?.plural, schema.labels?.singular]
    .filter((v): v is string => typeof v === "string")
    .some((v) => v.toLowerCase() === n);
}

export async function resolveObjectType(deps: SyncContext, row: ObjectRow): Promise<ResolvedType> {
  const standard = STANDARD_OBJECT_TYPES[row.object_type];
  if (standard) {
    return {
      apiName: row.object_type,
      objectTypeId: standard.objectTypeId,
      singular: standard.singular,
      lastModifiedProperty: standard.lastModifiedProperty,
      tableName: row.object_type,
      defaultProperties: standard.defaultProperties,
    };
  }
  const schemas = await deps.hubspot.schemas();
  const schema = schemas.find((s) => customMatches(s, row.object_type));
  if (!schema) {
    throw new Error(`hubsync: HubSpot has no object type named "${row.object_type}" (neither standard nor a custom object schema)`);
  }
  let tableName = tableNameFor(schema.name);
  if (STANDARD_OBJECT_TYPES[tableName] || RESERVED_TABLE_NAMES.has(tableName) || tableName.startsWith("associations_") || tableName.endsWith("_labeled")) {
    tableName = tableNameFor(`custom_${schema.name}`);
  }
  const extra = [schema.primaryDisplayProperty, ...((schema.secondaryDisplayProperties as unknown[]) ?? []), ...((schema.requiredProperties as unknown[]) ?? [])];
  return {
    apiName: schema.objectTypeId,
    objectTypeId: schema.objectTypeId,
    singular: tableNameFor(schema.labels?.singular ?? schema.name),
    lastModifiedProperty: "hs_lastmodifieddate",
    tableName,
    defaultProperties: [...CUSTOM_OBJECT_BASE_PROPERTIES, ...extra.filter((p): p is string => typeof p === "string")],
  };
}

interface ColumnRow {
  property_name: string;
  column_name: string;
  pg_type: string;
  hubspot_type: string;
  field_type: string | null;
  read_only: boolean;
  unique_value: boolean;
  archived_at: Date | null;
}

/**
 * Brings hubspot.<table> and hubsync.columns in line with HubSpot's properties: creates the table,
 * adds a typed column for each selected property, never drops anything. A property that vanished
 * keeps its column (archived_at set). A property whose type changed keeps its old column, renamed
 * `<column>_was_<old type>`, and gets a fresh column of the new type, filled from `properties`
 * jsonb (which always holds HubSpot's raw strings) — no value is ever lost or cast lossily.
 */
export async function discover(deps: SyncContext, objectType: string): Promise<DiscoveryResult> {
  const row = await loadObject(deps.pool, objectType);
  if (row.kind === "owners") {
    await ensureOwnersTable(deps.pool);
    await markDiscovered(deps.pool, row, { tableName: "owners" });
    return { tableName: "owners", added: [], archived: [], retyped: [], untyped: [] };
  }
  if (row.kind === "lists") {
    await ensureListTables(deps.pool);
    await markDiscovered(deps.pool, row, { tableName: "lists" });
    return { tableName: "lists", added: [], archived: [], retyped: [], untyped: [] };
  }
  if (row.kind === "pipelines") {
    await ensurePipelineTables(deps.pool);
    await markDiscovered(deps.pool, row, { tableName: "pipelines" });
    return { tableName: "pipelines", added: [], archived: [], retyped: [], untyped: [] };
  }
  const type = await resolveObjectType(deps, row);
  const defs = await deps.hubspot.properties(type.apiName);
  const enumerationsBefore = await enumerationColumns(deps.pool, objectType);
  const result = await applyProperties(deps, row, type, defs);
  await writePropertyCatalog(deps.pool, objectType, defs);
  // The write-back trigger refuses these when written into `properties` jsonb (sql/41_push_triggers.sql).
  const readOnly = defs.filter(isReadOnlyProperty).map((d) => d.name).sort();
  await deps.pool.query(`update hubsync.objects set read_only_properties = $2 where object_type = $1 and read_only_properties is distinct from $2::text[]`, [
    objectType,
    readOnly,
  ]);
  const allProperties = [...new Set([...defs.map((d) => d.name), MERGED_IDS_PROPERTY])];
  await writeCursor(deps.pool, objectType, "schema", { properties: allProperties, discoveredAt: new Date().toISOString() });
  await markDiscovered(deps.pool, row, type);
  // The labeled view names every column: it follows the table when columns come or change type.
  if (result.added.length || result.retyped.length || (await enumerationColumns(deps.pool, objectType)) !== enumerationsBefore || !(await labeledViewExists(deps.pool, type.tableName))) {
    await refreshLabeledView(deps.pool, objectType, type.tableName);
  }
  deps.log.info(
    { objectType, table: `hubspot.${type.tableName}`, properties: defs.length, added: result.added.length, archived: result.archived, retyped: result.retyped, untyped: result.untyped.length },
    "discovery done",
  );
  return result;
}

/** discover() as a row of hubsync.runs (kind 'discover'); a failure puts the object in phase 'error'. */
export async function runDiscovery(deps: SyncContext, objectType: string): Promise<RunSummary> {
  try {
    return await recordRun(deps, objectType, "discover", async () => {
      const r = await discover(deps, objectType);
      return { records: 0, details: { table: r.tableName, added: r.added.length, archived: r.archived, retyped: r.retyped, untyped: r.untyped.length } };
    });
  } catch (err) {
    // waiting out a HubSpot pause (quota, token) is not a failed discovery: the job comes back after it
    if (err instanceof PausedError && err.reason !== "scopes") throw err;
    await deps.pool.query(
      `update hubsync.objects set phase = 'error', last_error = $2, last_error_at = now(), updated_at = now() where object_type = $1`,
      [objectType, err instanceof Error ? err.message : String(err)],
    );
    throw err;
  }
}

async function markDiscovered(pool: pg.Pool, row: ObjectRow, type: Partial<ResolvedType> & { tableName: string }): Promise<void> {
  await pool.query(
    `update hubsync.objects
        set object_type_id = coalesce($2, object_type_id), table_name = $3, singular_name = coalesce($4, singular_name),
            last_modified_property = coalesce($5, last_modified_property),
            -- a completed backfill is kept (enable_sync again with other properties only re-discovers);
            -- an unfinished one resumes from its cursor; hubsync.resync clears the cursors for a full re-pull
            phase = case
              when phase not in ('discovering', 'error') then phase
              when exists (select from hubsync.cursors c where c.object_type = $1 and c.stream = 'backfill' and c.state->>'done' = 'true') then 'live'
              else 'backfilling' end,
            last_error = null, updated_at = now()
      where object_type = $1`,
    [row.object_type, type.objectTypeId ?? null, type.tableName, type.singular ?? null, type.lastModifiedProperty ?? null],
  );
}

async function applyProperties(deps: SyncContext, row: ObjectRow, type: ResolvedType, defs: PropertyDef[]): Promise<DiscoveryResult> {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const wanted = row.properties ?? type.defaultProperties;
  const unknown = wanted.filter((p) => !byName.has(p));
  if (unknown.length && row.properties) deps.log.warn({ objectType: row.object_type, unknown }, "selected properties HubSpot does not have; skipped");
  const selected = [...new Set(wanted.filter((p) => byName.has(p)))];
  const table = `hubspot.${quoteIdent(type.tableName)}`;

  return inApplyingTransaction(deps.pool, async (client) => {
    // one discovery per object at a time, whichever process runs it
    await client.query(`select pg_advisory_xact_lock(hashtext('hubsync.discover:' || $1))`, [row.object_type]);
    await createDataTable(client, type.tableName);
    const { rows: existing } = await client.query<ColumnRow>(
      `select property_name, column_name, pg_type, hubspot_type, field_type, read_only, unique_value, archived_at from hubsync.columns where object_type = $1`,
      [row.object_type],
    );
    const taken = new Set<string>([...SYSTEM_COLUMNS, ...existing.map((c) => c.column_name)]);
    // new columns of a table that has rows are filled from `properties`; an empty table needs nothing
    const { rows: any } = await client.query(`select exists (select 1 from ${table}) as has_rows`);
    const hasRows = Boolean(any[0]?.has_rows);
    const byProperty = new Map(existing.map((c) => [c.property_name, c]));
    const result: DiscoveryResult = { tableName: type.tableName, added: [], archived: [], retyped: [], untyped: [] };
    let typedCount = existing.length;

    for (const name of selected) {
      const def = byName.get(name)!;
      const pgType = pgTypeFor(def);
      const meta = [def.type, def.fieldType ?? null, def.modificationMetadata?.readOnlyValue ?? def.calculated ?? false, def.hasUniqueValue ?? false] as const;
      const current = byProperty.get(name);
      if (current && current.pg_type === pgType) {
        const same =
          current.archived_at === null &&
          current.hubspot_type === meta[0] &&
          current.field_type === meta[1] &&
          current.read_only === meta[2] &&
          current.unique_value === meta[3];
        if (same) continue;
        await client.query(
          `update hubsync.columns set hubspot_type = $3, field_type = $4, read_only = $5, unique_value = $6, archived_at = null
            where object_type = $1 and property_name = $2`,
          [row.object_type, name, ...meta],
        );
        continue;
      }
      if (current) {
        // Type changed: keep the old column under a new name, start a fresh one of the new type.
        const kept = columnNameFor(withSuffix(current.column_name, `_was_${current.pg_type.replace("[]", "_array")}`), taken);
        taken.add(kept);
        await client.query(`alter table ${table} rename column ${quoteIdent(current.column_name)} to ${quoteIdent(kept)}`);
        await client.query(
          `update hubsync.columns set property_name = $3, column_name = $4, archived_at = now()
            where object_type = $1 and property_name = $2`,
          [row.object_type, name, `${name}@${current.pg_type}`, kept],
        );
        await client.query(`alter table ${table} add column ${quoteIdent(current.column_name)} ${pgType}`);
        await client.query(
          `insert into hubsync.columns (object_type, property_name, column_name, hubspot_type, field_type, read_only, unique_value, pg_type)
           values ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [row.object_type, name, current.column_name, ...meta, pgType],
        );
        await refillColumn(client, table, current.column_name, name, pgType);
        result.retyped.push(name);
        typedCount++;
        continue;
      }
      if (typedCount >= MAX_TYPED_COLUMNS) {
        result.untyped.push(name);
        continue;
      }
      const column = columnNameFor(name, taken);
      taken.add(column);
      await client.query(`alter table ${table} add column if not exists ${quoteIdent(column)} ${pgType}`);
      await client.query(
        `insert into hubsync.columns (object_type, property_name, column_name, hubspot_type, field_type, read_only, unique_value, pg_type)
         values ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [row.object_type, name, column, ...meta, pgType],
      );
      if (hasRows) await refillColumn(client, table, column, name, pgType);
      result.added.push(name);
      typedCount++;
    }

    for (const c of existing) {
      if (c.archived_at === null && !byName.has(c.property_name) && !c.property_name.includes("@")) {
        await client.query(`update hubsync.columns set archived_at = now() where object_type = $1 and property_name = $2`, [row.object_type, c.property_name]);
        result.archived.push(c.property_name);
      }
    }
    if (result.untyped.length) {
      deps.log.warn(
        { objectType: row.object_type, count: result.untyped.length, limit: MAX_TYPED_COLUMNS },
        "more selected properties than typed columns allowed; the rest are in the properties jsonb column only",
      );
    }
    return result;
  });
}

/** A column added to a table that already has rows is filled from the raw values in `properties`. */
async function refillColumn(client: pg.PoolClient, table: string, column: string, property: string, pgType: PgType): Promise<void> {
  const { rows } = await client.query<{ id: string; v: string | null }>(
    `select id, properties->>$1 as v from ${table} where properties ? $1 and id is not null`,
    [property],
  );
  const updates = rows.map((r) => ({ id: r.id, v: convertValue(r.v, pgType) })).filter((u) => u.v !== null);
  for (let i = 0; i < updates.length; i += 5000) {
    await client.query(
      `update ${table} t set ${quoteIdent(column)} = x.v from jsonb_to_recordset($1::jsonb) as x(id text, v ${pgType}) where t.id = x.id`,
      [JSON.stringify(updates.slice(i, i + 5000))],
    );
  }
}

export async function createDataTable(client: pg.PoolClient | pg.Pool, tableName: string): Promise<void> {
  const table = `hubspot.${quoteIdent(tableName)}`;
  // Re-discovery (hourly, during pulls) must not queue for locks behind writers: no DDL when all is there.
  const { rows } = await client.query(`select to_regclass($1) is not null as t, to_regclass($2) is not null as i`, [
    table,
    `hubspot.${quoteIdent(withSuffix(tableName, "_updated_at_idx"))}`,
  ]);
  if (rows[0]?.t && rows[0]?.i) return;
  await client.query(`
    create table if not exists ${table} (
      id text unique,
      properties jsonb not null default '{}',
      created_at timestamptz,
      updated_at timestamptz,
      archived_at timestamptz,
      _sync_hash text,
      _sync_inserted_at timestamptz not null default now(),
      _sync_updated_at timestamptz not null default now()
    )`);
  await client.query(`create index if not exists ${quoteIdent(withSuffix(tableName, "_updated_at_idx"))} on ${table} (updated_at)`);
  // the change log (sql/80_history.sql)
  await client.query(`select hubsync._ensure_change_triggers($1)`, [tableName]);
  await client.query(`do $$ begin
      if exists (select 1 from pg_roles where rolname = 'hubspot_reader') then
        execute format('grant select on %s to hubspot_reader', '${table.replace(/'/g, "''")}');
      end if;
    end $$`);
}
