import type pg from "pg";
import { quoteIdent } from "../../core/schema/naming.ts";
import { findObject } from "../../core/schema/objects.ts";

/** Where a HubSpot property of a synced type lives in PostgreSQL: its table and typed column (hubsync.columns). */
export async function propertyColumn(pool: pg.Pool, objectType: string, property: string): Promise<{ table: string; column: string }> {
  const table = (await findObject(pool, objectType))?.table_name;
  const { rows } = await pool.query<{ column_name: string }>(`select column_name from hubsync.columns where object_type = $1 and property_name = $2`, [
    objectType,
    property,
  ]);
  const column = rows[0]?.column_name;
  if (!table || !column) throw new Error(`hubsync has no typed column for ${objectType}.${property}`);
  return { table: `hubspot.${quoteIdent(table)}`, column: quoteIdent(column) };
}
