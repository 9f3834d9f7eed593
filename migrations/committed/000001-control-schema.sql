--! Previous: -
--! Hash: sha1:8629db45e575c98287141b5ce56c7fddc4bd633a
--! Message: control schema

-- hubsync control schema: configuration, checkpoints, run history, merges and the outbox's base
-- shape. Everything is written to be safe in a database hubsync does not own: schemas and roles
-- may already exist (roles are cluster-wide, so another database on the same server may have
-- created them), and hubsync's own bookkeeping table (hubsync.migrations) is created by
-- `hubsync install` before this file runs.

create schema if not exists hubsync;
create schema if not exists hubspot;
comment on schema hubsync is 'hubsync control schema: configuration, cursors, runs, outbox (see hubsync.status)';
comment on schema hubspot is 'HubSpot data synced by hubsync: one table per object type';

-- Roles are shared by every database of the server: create them only when missing, and tolerate
-- a concurrent install in another database creating the same role between check and create.
do $$
declare
  r text;
begin
  foreach r in array array['hubsync_admin', 'hubspot_reader', 'hubspot_writer'] loop
    if not exists (select from pg_catalog.pg_roles where rolname = r) then
      begin
        execute format('create role %I nologin', r);
      exception when duplicate_object or unique_violation then
        null;
      end;
    end if;
  end loop;
end
$$;

create table hubsync.objects (
  object_type text primary key,
  object_type_id text,
  kind text not null default 'crm' check (kind in ('crm', 'owners', 'pipelines')),
  enabled boolean not null default true,
  properties text[],
  write_back boolean not null default false,
  phase text not null default 'discovering' check (phase in ('discovering', 'backfilling', 'live', 'error', 'disabled')),
  table_name text,
  singular_name text,
  last_modified_property text,
  on_archive text not null default 'delete' check (on_archive in ('delete', 'mark')),
  conflict_policy text not null default 'hubspot_wins' check (conflict_policy in ('hubspot_wins', 'postgres_wins', 'latest_wins', 'merge')),
  on_reject text not null default 'keep_local' check (on_reject in ('keep_local', 'revert')),
  last_error text,
  last_error_at timestamptz,
  last_pull_at timestamptz,
  enabled_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table hubsync.objects is 'One row per HubSpot object type a DBA enabled with hubsync.enable_sync()';
comment on column hubsync.objects.properties is 'null = HubSpot''s default properties as typed columns; every property is always in the properties jsonb column';

create table hubsync.columns (
  object_type text not null references hubsync.objects on delete cascade,
  property_name text not null,
  column_name text not null,
  hubspot_type text not null,
  field_type text,
  pg_type text not null,
  read_only boolean not null default false,
  unique_value boolean not null default false,
  archived_at timestamptz,
  added_at timestamptz not null default now(),
  primary key (object_type, property_name),
  unique (object_type, column_name)
);
comment on table hubsync.columns is 'HubSpot property -> column of hubspot.<table_name>; archived_at set when the property disappeared in HubSpot';

create table hubsync.cursors (
  object_type text not null,
  stream text not null,
  state jsonb not null default '{}',
  updated_at timestamptz not null default now(),
  primary key (object_type, stream)
);
comment on table hubsync.cursors is 'Resumable checkpoints per (object type, stream): backfill, incremental, archived, reconcile, associations:<other>';

create table hubsync.runs (
  id bigint generated always as identity primary key,
  object_type text,
  kind text not null,
  status text not null default 'running' check (status in ('running', 'ok', 'error')),
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  records integer not null default 0,
  requests integer not null default 0,
  rate_limited integer not null default 0,
  error text,
  details jsonb not null default '{}'
);
create index runs_object_type_started_at_idx on hubsync.runs (object_type, started_at desc);
comment on table hubsync.runs is 'One row per worker run (discover, backfill, incremental, archived, reconcile, associations, push)';

create table hubsync.merges (
  object_type text not null,
  merged_id text not null,
  winner_id text not null,
  merged_at timestamptz not null default now(),
  primary key (object_type, merged_id)
);
comment on table hubsync.merges is 'Records merged away in HubSpot, mapped to the record that absorbed them';

create table hubsync.outbox (
  id bigint generated always as identity primary key,
  object_type text not null,
  record_id text,
  local_id uuid,
  op text not null check (op in ('create', 'update', 'archive', 'associate', 'unassociate')),
  changes jsonb not null default '{}',
  status text not null default 'pending' check (status in ('pending', 'in_flight', 'sent', 'rejected', 'superseded')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  error_category text,
  error_message text,
  error_correlation_id text,
  created_at timestamptz not null default now(),
  sent_at timestamptz
);
create index outbox_object_type_status_idx on hubsync.outbox (object_type, status);
comment on table hubsync.outbox is 'Local changes to hubspot.* waiting to be sent to HubSpot, sent, or rejected with HubSpot''s reason';

-- hubsync_admin: configures hubsync through the SQL API (functions granted in sql/) and reads
-- every control table.
grant usage on schema hubsync to hubsync_admin;
grant select on all tables in schema hubsync to hubsync_admin;
alter default privileges in schema hubsync grant select on tables to hubsync_admin;

-- hubspot_reader: reads the data, including tables discovery creates later. Default privileges
-- only cover tables created by the role running this migration (the installer), which is also
-- the role the worker is expected to connect as.
grant usage on schema hubspot to hubspot_reader;
grant select on all tables in schema hubspot to hubspot_reader;
alter default privileges in schema hubspot grant select on tables to hubspot_reader;

-- hubspot_writer reads too (an UPDATE with a WHERE needs SELECT); insert/update/delete is granted
-- per table when write-back is enabled (hubsync.enable_write_back).
grant usage on schema hubspot to hubspot_writer;

-- Memberships are cluster-wide too: grant them only when missing, since a non-superuser installer
-- may lack the ADMIN option on roles another database's install created (PostgreSQL 16+).
do $$
begin
  if not pg_catalog.pg_has_role('hubspot_writer', 'hubspot_reader', 'member') then
    grant hubspot_reader to hubspot_writer;
  end if;
  if not pg_catalog.pg_has_role('hubsync_admin', 'hubspot_reader', 'member') then
    grant hubspot_reader to hubsync_admin;
  end if;
end
$$;
