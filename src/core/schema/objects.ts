import type pg from "pg";
import { z } from "zod";

/** A row of hubsync.objects as the pull side reads it. */
export const ObjectRow = z.object({
  object_type: z.string(),
  object_type_id: z.string().nullable(),
  kind: z.enum(["crm", "owners", "pipelines"]),
  enabled: z.boolean(),
  properties: z.array(z.string()).nullable(),
  phase: z.string(),
  table_name: z.string().nullable(),
  singular_name: z.string().nullable(),
  last_modified_property: z.string().nullable(),
  on_archive: z.enum(["delete", "mark"]),
});
export type ObjectRow = z.infer<typeof ObjectRow>;

export async function loadObject(db: pg.Pool | pg.PoolClient, objectType: string): Promise<ObjectRow> {
  const { rows } = await db.query(
    `select object_type, object_type_id, kind, enabled, properties, phase, table_name, singular_name, last_modified_property, on_archive
       from hubsync.objects where object_type = $1`,
    [objectType],
  );
  if (rows.length === 0) throw new Error(`hubsync: ${objectType} is not enabled (select hubsync.enable_sync('${objectType}'))`);
  const row = ObjectRow.parse(rows[0]);
  // enable_sync may leave kind at its default for the two special names
  if (row.object_type === "owners" || row.object_type === "pipelines") row.kind = row.object_type;
  return row;
}

export async function listEnabledObjects(pool: pg.Pool, phases?: string[]): Promise<ObjectRow[]> {
  const { rows } = await pool.query(
    `select object_type, object_type_id, kind, enabled, properties, phase, table_name, singular_name, last_modified_property, on_archive
       from hubsync.objects where enabled and ($1::text[] is null or phase = any($1)) order by object_type`,
    [phases ?? null],
  );
  return rows.map((r) => {
    const row = ObjectRow.parse(r);
    if (row.object_type === "owners" || row.object_type === "pipelines") row.kind = row.object_type;
    return row;
  });
}

export async function setPhase(db: pg.Pool | pg.PoolClient, objectType: string, phase: string, error?: string | null): Promise<void> {
  await db.query(
    `update hubsync.objects
        set phase = $2, updated_at = now(),
            last_error = case when $3::text is null then last_error else $3 end,
            last_error_at = case when $3::text is null then last_error_at else now() end
      where object_type = $1`,
    [objectType, phase, error ?? null],
  );
}

export async function recordError(db: pg.Pool, objectType: string, error: string): Promise<void> {
  await db.query(`update hubsync.objects set last_error = $2, last_error_at = now(), updated_at = now() where object_type = $1`, [objectType, error]);
}
