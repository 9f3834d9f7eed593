import type pg from "pg";
import { z } from "zod";

/**
 * A row of hubsync.objects, the one way TypeScript reads that table (findObject, loadObject,
 * listEnabledObjects): what is synced, how far it got, and how it is written back.
 */
export const ObjectRow = z.object({
  object_type: z.string(),
  object_type_id: z.string().nullable(),
  kind: z.enum(["crm", "owners", "pipelines", "lists"]),
  enabled: z.boolean(),
  properties: z.array(z.string()).nullable(),
  phase: z.string(),
  table_name: z.string().nullable(),
  singular_name: z.string().nullable(),
  last_modified_property: z.string().nullable(),
  on_archive: z.enum(["delete", "mark"]),
  write_back: z.boolean(),
  on_reject: z.enum(["keep_local", "revert"]),
  lag_window_ms: z.number().int().nullable(),
  /** The backfill horizon: only records modified since then are backfilled (null: every record). */
  backfill_since: z.date().nullable(),
});
export type ObjectRow = z.infer<typeof ObjectRow>;

const COLUMNS = `object_type, object_type_id, kind, enabled, properties, phase, table_name, singular_name, last_modified_property, on_archive,
  write_back, on_reject, lag_window_ms, backfill_since`;

function parseObjectRow(raw: unknown): ObjectRow {
  const row = ObjectRow.parse(raw);
  // enable_sync may leave kind at its default for the special names
  if (row.object_type === "owners" || row.object_type === "pipelines" || row.object_type === "lists") row.kind = row.object_type;
  return row;
}

/** The row of an object type, or null when it was never enabled. */
export async function findObject(db: pg.Pool | pg.PoolClient, objectType: string): Promise<ObjectRow | null> {
  const { rows } = await db.query(`select ${COLUMNS} from hubsync.objects where object_type = $1`, [objectType]);
  return rows.length === 0 ? null : parseObjectRow(rows[0]);
}

export async function loadObject(db: pg.Pool | pg.PoolClient, objectType: string): Promise<ObjectRow> {
  const row = await findObject(db, objectType);
  if (!row) throw new Error(`hubsync: ${objectType} is not enabled (select hubsync.enable_sync('${objectType}'))`);
  return row;
}

/** Every enabled object type (in those phases, when given), by name. */
export async function listEnabledObjects(db: pg.Pool | pg.PoolClient, phases?: string[]): Promise<ObjectRow[]> {
  const { rows } = await db.query(`select ${COLUMNS} from hubsync.objects where enabled and ($1::text[] is null or phase = any($1)) order by object_type`, [
    phases ?? null,
  ]);
  return rows.map(parseObjectRow);
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
