import type pg from "pg";

/** hubspot.owners, hubspot.pipelines, hubspot.pipeline_stages and the lists' tables have fixed shapes (no properties API behind them). */
export async function ensureOwnersTable(db: pg.Pool | pg.PoolClient): Promise<void> {
  await db.query(`
    create table if not exists hubspot.owners (
      id text primary key,
      email text, first_name text, last_name text,
      user_id bigint, user_id_including_inactive bigint,
      type text, teams jsonb not null default '[]',
      archived boolean not null default false,
      created_at timestamptz, updated_at timestamptz, archived_at timestamptz,
      _sync_hash text,
      _sync_inserted_at timestamptz not null default now(), _sync_updated_at timestamptz not null default now()
    )`);
  await grantRead(db, ["hubspot.owners"]);
}

export async function ensurePipelineTables(db: pg.Pool | pg.PoolClient): Promise<void> {
  await db.query(`
    create table if not exists hubspot.pipelines (
      object_type text not null, id text not null,
      label text, display_order integer, archived boolean not null default false,
      created_at timestamptz, updated_at timestamptz, archived_at timestamptz,
      _sync_hash text, _sync_inserted_at timestamptz not null default now(), _sync_updated_at timestamptz not null default now(),
      primary key (object_type, id)
    );
    create table if not exists hubspot.pipeline_stages (
      object_type text not null, pipeline_id text not null, id text not null,
      label text, display_order integer, metadata jsonb not null default '{}', archived boolean not null default false,
      created_at timestamptz, updated_at timestamptz, archived_at timestamptz,
      _sync_hash text, _sync_inserted_at timestamptz not null default now(), _sync_updated_at timestamptz not null default now(),
      primary key (object_type, pipeline_id, id)
    )`);
  await grantRead(db, ["hubspot.pipelines", "hubspot.pipeline_stages"]);
}

/**
 * hubspot.lists and hubspot.list_memberships, with the write-back trigger on the memberships:
 * made by hubsync._ensure_list_tables (sql/80_lists.sql), which the install runs too.
 */
export async function ensureListTables(db: pg.Pool | pg.PoolClient): Promise<void> {
  await db.query(`select hubsync._ensure_list_tables()`);
}

async function grantRead(db: pg.Pool | pg.PoolClient, tables: string[]): Promise<void> {
  await db.query(`do $$ begin
      if exists (select 1 from pg_roles where rolname = 'hubspot_reader') then
        ${tables.map((t) => `grant select on ${t} to hubspot_reader;`).join(" ")}
      end if;
    end $$`);
}
