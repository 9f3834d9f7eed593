import type pg from "pg";

export interface ObjectStatus {
  phase: string;
  last_error: string | null;
  last_error_at: Date | null;
  pending: number;
  rejected: number;
}

/** One object type's row of hubsync.status, as a DBA reads it. */
export async function objectStatus(pool: pg.Pool, objectType: string): Promise<ObjectStatus | undefined> {
  const { rows } = await pool.query(
    `select phase, last_error, last_error_at, pending::int, rejected::int from hubsync.status where object_type = $1`,
    [objectType],
  );
  return rows[0] as ObjectStatus | undefined;
}
