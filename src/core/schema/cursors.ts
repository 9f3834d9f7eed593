import type pg from "pg";

/** hubsync.cursors: one resumable checkpoint per (object type, stream). */
export async function readCursor<T>(db: pg.Pool | pg.PoolClient, objectType: string, stream: string): Promise<T | null> {
  const { rows } = await db.query(`select state from hubsync.cursors where object_type = $1 and stream = $2`, [objectType, stream]);
  return rows.length ? (rows[0].state as T) : null;
}

export async function writeCursor(db: pg.Pool | pg.PoolClient, objectType: string, stream: string, state: unknown): Promise<void> {
  await db.query(
    `insert into hubsync.cursors (object_type, stream, state, updated_at) values ($1, $2, $3, now())
     on conflict (object_type, stream) do update set state = excluded.state, updated_at = now()`,
    [objectType, stream, JSON.stringify(state)],
  );
}

export async function deleteCursor(db: pg.Pool | pg.PoolClient, objectType: string, stream: string): Promise<void> {
  await db.query(`delete from hubsync.cursors where object_type = $1 and stream = $2`, [objectType, stream]);
}
