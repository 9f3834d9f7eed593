import type pg from "pg";
import { isReadOnlyProperty, type PropertyDef } from "../hubspot/schemas.ts";
import { withSuffix } from "./naming.ts";

/**
 * hubspot.properties and hubspot.property_options, kept from the property listing discovery reads
 * anyway (no call of their own). HubSpot's listing leaves archived properties out, so a property
 * missing from it is marked archived here rather than deleted: its column and its values stay, and
 * so do the labels of its options. A listed property's options are HubSpot's list as it is now.
 * Rows are only rewritten when something in them changed, so the hourly re-discovery writes nothing.
 */
export async function writePropertyCatalog(db: pg.Pool | pg.PoolClient, objectType: string, defs: PropertyDef[]): Promise<void> {
  const properties = defs.map((d) => ({
    name: d.name,
    label: d.label ?? null,
    type: d.type,
    field_type: d.fieldType ?? null,
    group_name: d.groupName ?? null,
    description: d.description ?? null,
    display_order: d.displayOrder ?? null,
    calculated: d.calculated ?? false,
    read_only: isReadOnlyProperty(d),
    has_unique_value: d.hasUniqueValue ?? false,
    hubspot_defined: d.hubspotDefined ?? false,
    hidden: d.hidden ?? false,
    created_at: d.createdAt ?? null,
    updated_at: d.updatedAt ?? null,
  }));
  const options = defs.flatMap((d) =>
    (d.options ?? []).map((o) => ({
      property: d.name,
      value: o.value,
      label: o.label,
      description: o.description ?? null,
      display_order: o.displayOrder ?? null,
      hidden: o.hidden ?? false,
    })),
  );
  await db.query(
    `with listed as (
       select * from jsonb_to_recordset($2::jsonb) as x(name text, label text, type text, field_type text, group_name text, description text,
              display_order integer, calculated boolean, read_only boolean, has_unique_value boolean, hubspot_defined boolean, hidden boolean,
              created_at timestamptz, updated_at timestamptz)
     ), upserted as (
       insert into hubspot.properties as p (object_type, name, label, type, field_type, group_name, description, display_order, calculated, read_only,
                                            has_unique_value, hubspot_defined, hidden, archived, archived_at, created_at, updated_at)
       select $1, name, label, type, field_type, group_name, description, display_order, calculated, read_only,
              has_unique_value, hubspot_defined, hidden, false, null, created_at, updated_at
         from listed
       on conflict (object_type, name) do update
          set label = excluded.label, type = excluded.type, field_type = excluded.field_type, group_name = excluded.group_name,
              description = excluded.description, display_order = excluded.display_order, calculated = excluded.calculated,
              read_only = excluded.read_only, has_unique_value = excluded.has_unique_value, hubspot_defined = excluded.hubspot_defined,
              hidden = excluded.hidden, archived = false, archived_at = null, created_at = excluded.created_at, updated_at = excluded.updated_at,
              _sync_updated_at = now()
        where (p.label, p.type, p.field_type, p.group_name, p.description, p.display_order, p.calculated, p.read_only, p.has_unique_value,
               p.hubspot_defined, p.hidden, p.archived, p.created_at, p.updated_at)
              is distinct from
              (excluded.label, excluded.type, excluded.field_type, excluded.group_name, excluded.description, excluded.display_order, excluded.calculated,
               excluded.read_only, excluded.has_unique_value, excluded.hubspot_defined, excluded.hidden, false, excluded.created_at, excluded.updated_at)
     )
     update hubspot.properties p set archived = true, archived_at = now(), _sync_updated_at = now()
      where p.object_type = $1 and not p.archived and not exists (select from listed l where l.name = p.name)`,
    [objectType, JSON.stringify(properties)],
  );
  await db.query(
    `with listed as (
       select * from jsonb_to_recordset($2::jsonb) as x(property text, value text, label text, description text, display_order integer, hidden boolean)
     ), upserted as (
       insert into hubspot.property_options as o (object_type, property, value, label, description, display_order, hidden)
       select distinct on (property, value) $1, property, value, label, description, display_order, hidden from listed
       on conflict (object_type, property, value) do update
          set label = excluded.label, description = excluded.description, display_order = excluded.display_order, hidden = excluded.hidden,
              _sync_updated_at = now()
        where (o.label, o.description, o.display_order, o.hidden) is distinct from (excluded.label, excluded.description, excluded.display_order, excluded.hidden)
     )
     delete from hubspot.property_options o
      where o.object_type = $1 and o.property = any($3::text[])
        and not exists (select from listed l where l.property = o.property and l.value = o.value)`,
    [objectType, JSON.stringify(options), defs.map((d) => d.name)],
  );
}

/** The name of an object table's labeled view: hubspot.<table>_labeled. */
export function labeledViewName(tableName: string): string {
  return withSuffix(tableName, "_labeled");
}

/** The enumeration columns of a type, in a stable order: the labeled view changes when these do. */
export async function enumerationColumns(db: pg.Pool | pg.PoolClient, objectType: string): Promise<string> {
  const { rows } = await db.query<{ columns: string | null }>(
    `select string_agg(column_name || ':' || pg_type, ',' order by column_name) as columns from hubsync.columns where object_type = $1 and hubspot_type = 'enumeration'`,
    [objectType],
  );
  return rows[0]?.columns ?? "";
}

/** Creates or replaces hubspot.<table>_labeled (sql/25_property_catalog.sql). */
export async function refreshLabeledView(db: pg.Pool | pg.PoolClient, objectType: string, tableName: string): Promise<void> {
  await db.query(`select hubsync._refresh_labeled_view($1, $2)`, [objectType, labeledViewName(tableName)]);
}

/** Whether hubspot.<table>_labeled exists. */
export async function labeledViewExists(db: pg.Pool | pg.PoolClient, tableName: string): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>(`select to_regclass(format('hubspot.%I', $1::text)) is not null as present`, [labeledViewName(tableName)]);
  return Boolean(rows[0]?.present);
}
