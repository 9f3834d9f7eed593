import { z } from "zod";
import { readCursor } from "../schema/cursors.ts";
import { discover } from "../schema/discover.ts";
import type { PgType } from "../schema/mapping.ts";
import { quoteIdent } from "../schema/naming.ts";
import { MERGED_IDS_PROPERTY, STANDARD_OBJECT_TYPES } from "../schema/object-catalog.ts";
import { loadObject, type ObjectRow } from "../schema/objects.ts";
import type { SyncContext } from "../context.ts";

/** Everything a pull stream needs to know about one CRM object's table. */
export interface PullTarget {
  row: ObjectRow;
  objectType: string;
  apiName: string;
  /** hubspot."<table>", quoted. */
  table: string;
  lastModifiedProperty: string;
  columns: Array<{ property: string; column: string; pgType: PgType }>;
  /** Every property HubSpot has for the type: asked for in batch reads, kept in `properties` jsonb. */
  allProperties: string[];
}

const SchemaCursor = z.object({ properties: z.array(z.string()), discoveredAt: z.string() });

/** Discovery runs again when its snapshot of HubSpot's properties is older than this (new properties become columns). */
export const DEFAULT_REDISCOVER_MS = 60 * 60 * 1000;

export async function loadTarget(deps: SyncContext, objectType: string, opts: { rediscoverAfterMs?: number } = {}): Promise<PullTarget> {
  let snapshot = SchemaCursor.safeParse(await readCursor(deps.pool, objectType, "schema"));
  const maxAge = opts.rediscoverAfterMs ?? DEFAULT_REDISCOVER_MS;
  if (!snapshot.success || Date.now() - Date.parse(snapshot.data.discoveredAt) > maxAge) {
    await discover(deps, objectType);
    snapshot = SchemaCursor.safeParse(await readCursor(deps.pool, objectType, "schema"));
  }
  const row = await loadObject(deps.pool, objectType);
  if (!snapshot.success || !row.table_name) throw new Error(`hubsync: ${objectType} has not been discovered`);
  const { rows } = await deps.pool.query<{ property_name: string; column_name: string; pg_type: PgType }>(
    `select property_name, column_name, pg_type from hubsync.columns where object_type = $1 and archived_at is null order by column_name`,
    [objectType],
  );
  const standard = STANDARD_OBJECT_TYPES[objectType];
  return {
    row,
    objectType,
    apiName: standard ? objectType : (row.object_type_id ?? objectType),
    table: `hubspot.${quoteIdent(row.table_name)}`,
    lastModifiedProperty: row.last_modified_property ?? standard?.lastModifiedProperty ?? "hs_lastmodifieddate",
    columns: rows.map((r) => ({ property: r.property_name, column: r.column_name, pgType: r.pg_type })),
    allProperties: [...new Set([...snapshot.data.properties, MERGED_IDS_PROPERTY])],
  };
}
