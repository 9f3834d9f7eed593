import type pg from "pg";
import { quoteIdent } from "../../core/schema/naming.ts";

/** Where a HubSpot property of a synced type lives in PostgreSQL: its table and typed column (hubsync.columns). */
export async function propertyColumn(pool: pg.Pool, objectType: string, property: string): Promise<{ table: string; column: string }> {
  const { rows } = await pool.query<{ table_name: string | null; column_name: string }>(
    `select o.table_name, c.column_name from hubsync.objects o join hubsync.columns c using (object_type)
      where o.object_type = $1 and c.property_name = $2`,
    [objectType, property],
  );
  const r = rows[0];
  if (!r?.table_name) throw new Error(`hubsync has no typed column for ${objectType}.${property}`);
  return { table: `hubspot.${quoteIdent(r.table_name)}`, column: quoteIdent(r.column_name) };
}
