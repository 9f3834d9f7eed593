--! Previous: sha1:5bd352cc2b4d58f64e9e2b38aeac6c1b29a39385
--! Hash: sha1:227fdd45c9e4a3091cf7e9bc06af148f36e87e8c
--! Message: history lists catalog refresh publications

-- == lead ==
-- The quota alert's day is the account's, which the rate budget keeps (daily_time_zone): the
-- setting that asked a DBA to type it again is gone.
delete from hubsync.settings where name = 'alerts.quota_time_zone';

-- == h-catalog ==
-- HubSpot's property catalog as tables, filled by discovery from the properties listing it reads
-- anyway. A property HubSpot stops listing (archived) keeps its row with archived = true; options
-- of a listed property follow HubSpot's list (a removed option leaves).
create table if not exists hubspot.properties (
  object_type text not null,
  name text not null,
  label text,
  type text not null,
  field_type text,
  group_name text,
  description text,
  display_order integer,
  calculated boolean not null default false,
  read_only boolean not null default false,
  has_unique_value boolean not null default false,
  hubspot_defined boolean not null default false,
  hidden boolean not null default false,
  archived boolean not null default false,
  archived_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz,
  _sync_updated_at timestamptz not null default now(),
  primary key (object_type, name)
);
comment on table hubspot.properties is
  'HubSpot''s properties per synced object type (object_type as in hubsync.objects), as discovery last read them; '
  'archived = true once HubSpot no longer lists the property';
create table if not exists hubspot.property_options (
  object_type text not null,
  property text not null,
  value text not null,
  label text,
  description text,
  display_order integer,
  hidden boolean not null default false,
  _sync_updated_at timestamptz not null default now(),
  primary key (object_type, property, value)
);
comment on table hubspot.property_options is
  'The options of HubSpot''s enumeration properties: the stored value and the label HubSpot shows (hubsync.label() looks them up)';
grant select on hubspot.properties, hubspot.property_options to hubspot_reader;

-- Records a DBA asked to read now (hubsync.refresh): the worker's hubsync_refresh job takes the
-- requests of a type, reads their records, and notes when it was done and what it changed.
create table if not exists hubsync.refresh_requests (
  id bigint generated always as identity primary key,
  object_type text not null,
  record_ids text[] not null,
  requested_at timestamptz not null default now(),
  started_at timestamptz,
  done_at timestamptz,
  result jsonb,
  error text
);
create index if not exists refresh_requests_waiting_idx on hubsync.refresh_requests (object_type) where done_at is null;
create index if not exists refresh_requests_done_at_idx on hubsync.refresh_requests (done_at);
comment on table hubsync.refresh_requests is
  'Records a DBA asked to read now with hubsync.refresh(): when, when the worker read them, what changed (result) or what failed (error)';

-- The backfill horizon: enable_sync(..., since => …) backfills only records modified since then.
alter table hubsync.objects add column if not exists backfill_since timestamptz;
comment on column hubsync.objects.backfill_since is
  'The backfill horizon: only records modified since then were backfilled (null = every record); the incremental pull keeps everything newer. hubsync.resync(type, since => …) moves it';
-- enable_sync gained `since` (sql/10_api.sql): the three-argument form goes, or a call without
-- `since` would match both.
drop function if exists hubsync.enable_sync(text, text[], boolean);

-- == h-publish ==
-- Publications: a table's or view's rows kept in HubSpot records (hubsync.publish(), sql/45_publish.sql).
create table if not exists hubsync.publication_config (
  name text primary key,
  source regclass not null,
  object_type text not null,
  match_on text not null,
  -- the source column holding the match key (the column mapped to match_on)
  key_column text not null,
  mode text not null check (mode in ('update', 'upsert', 'create_only', 'mirror')),
  -- source column -> HubSpot property
  properties jsonb not null,
  schedule text,
  -- mirror: the property cleared on records that left the source (null: they are archived)
  mirror_clear text,
  created_at timestamptz not null default now(),
  last_run_at timestamptz,
  last_run_queued integer,
  last_error text,
  last_error_at timestamptz
);
comment on table hubsync.publication_config is 'Tables and views whose rows hubsync keeps in HubSpot records (hubsync.publish)';

-- One row per source key a publication has seen: the hash of what was last queued for it, and how
-- HubSpot answered. A run queues only rows whose hash changed.
create table if not exists hubsync.publish_state (
  publication text not null references hubsync.publication_config on delete cascade,
  key text not null,
  local_id uuid not null,
  hash text,
  status text not null check (status in ('pending', 'sent', 'rejected', 'unmatched', 'exists', 'leaving')),
  record_id text,
  error text,
  updated_at timestamptz not null default now(),
  primary key (publication, key)
);
create unique index if not exists publish_state_local_id_idx on hubsync.publish_state (local_id);
comment on table hubsync.publish_state is 'Per publication and source key: hash of the last values queued, HubSpot record id, and the outcome (pending, sent, rejected, unmatched, exists, leaving)';

-- Publication changes go through the same outbox as write-back (same push, same order, same
-- rejections); this names the publication a row came from.
alter table hubsync.outbox add column if not exists publication text;
create index if not exists outbox_publication_due_idx on hubsync.outbox (object_type, id) where status = 'pending' and publication is not null;

-- == h-history ==
-- The change log (sql/80_history.sql fills it from triggers on hubspot.* and tells listeners) and
-- the property history hubsync.track_history keeps.
alter table hubsync.objects add column if not exists keep_changes interval not null default interval '30 days';
comment on column hubsync.objects.keep_changes is 'How long hubsync.changes keeps this type''s changes (the hourly prune deletes older ones)';

create table if not exists hubsync.changes (
  id bigint generated always as identity primary key,
  object_type text not null,
  record_id text,
  op text not null check (op in ('insert', 'update', 'delete', 'merge', 'restore')),
  source text not null check (source in ('pull', 'webhook', 'push', 'reconcile')),
  old_values jsonb not null default '{}',
  new_values jsonb not null default '{}',
  hubspot_updated_at timestamptz,
  applied_at timestamptz not null default now()
);
create index if not exists changes_record_idx on hubsync.changes (object_type, record_id, id);
create index if not exists changes_applied_at_idx on hubsync.changes (applied_at);
comment on table hubsync.changes is
  'One row per change hubsync applied to a hubspot.* table, written in the same transaction: the properties that changed '
  '(old_values, new_values), where it came from and HubSpot''s updatedAt. NOTIFY hubsync_changes follows each transaction';
grant select on hubsync.changes to hubsync_admin, hubspot_reader;

create table if not exists hubsync.history_properties (
  object_type text not null references hubsync.objects on delete cascade,
  property_name text not null,
  tracked_at timestamptz not null default now(),
  -- null until the first read of the property's whole history has gone through every record
  backfilled_at timestamptz,
  primary key (object_type, property_name)
);
comment on table hubsync.history_properties is 'The properties whose whole history hubsync keeps in hubspot.<table>_history (hubsync.track_history)';

alter table hubsync.objects add column if not exists history_calls bigint not null default 0;
comment on column hubsync.objects.history_calls is 'HubSpot calls made to read property history (first reads and re-reads), shown in hubsync.status';

-- Records whose tracked properties' history must be read again: the change-log trigger queues every
-- record a pull, webhook, reconciliation or push changed of a type with tracked properties, in the
-- same transaction; the hubsync_history task reads them 100 per batch call and takes them off.
create table if not exists hubsync.history_queue (
  object_type text not null,
  record_id text not null,
  queued_at timestamptz not null default now(),
  primary key (object_type, record_id)
);
comment on table hubsync.history_queue is 'Records whose tracked properties'' history the hubsync_history task reads again (100 per HubSpot call)';

-- == h-lists ==
-- Lists (HubSpot's segments): hubsync.objects gets the kind 'lists' (hubsync.enable_sync('lists')),
-- and the outbox the two membership changes a local INSERT or DELETE on hubspot.list_memberships
-- queues ('list_add', 'list_remove'). Each check constraint is rebuilt from the values it has now
-- plus these, so values other areas add to the same constraints are kept whichever runs first.
do $$
declare
  c record;
  have text[];
  want text[];
begin
  for c in select * from (values ('hubsync.objects'::regclass, 'objects_kind_check', 'kind', array['lists']),
                                 ('hubsync.outbox'::regclass, 'outbox_op_check', 'op', array['list_add', 'list_remove'])) v(rel, name, col, extra) loop
    select array(select m[1] from regexp_matches(pg_get_constraintdef(k.oid), '''([^'']+)''', 'g') m) into have
      from pg_catalog.pg_constraint k where k.conrelid = c.rel and k.conname = c.name;
    continue when have is null or have @> c.extra;
    want := have || array(select x from unnest(c.extra) x where x <> all (have));
    execute format('alter table %s drop constraint %I', c.rel, c.name);
    execute format('alter table %s add constraint %I check (%I in (%s))', c.rel, c.name, c.col,
                   (select string_agg(quote_literal(x), ', ') from unnest(want) x));
  end loop;
end
$$;

-- The pull of lists asks, for each member it reads, whether a local change of that membership is
-- waiting or was sent while it read (src/core/lists/pull.ts): one index lookup each.
create index if not exists outbox_list_membership_idx on hubsync.outbox ((changes ->> 'listId'), record_id) where object_type = 'lists';

-- Lists kept equal to a query (hubsync.publish_list, sql/80_lists.sql): one row per publication.
create table if not exists hubsync.list_publications (
  name text primary key,
  source text not null,
  list_name text not null,
  object_type text not null,
  key_column text not null,
  list_id text,
  last_run_at timestamptz,
  last_added integer,
  last_removed integer,
  last_unmatched integer,
  last_error text,
  last_error_at timestamptz,
  created_at timestamptz not null default now()
);
comment on table hubsync.list_publications is
  'HubSpot MANUAL lists kept equal to a table''s or view''s rows (hubsync.publish_list): the source, the list and its id '
  'once known, which column names the records, and the last run''s additions, removals, unmatched rows and error';
