-- Development migration (graphile-migrate's current.sql). `hubsync install` applies it after the
-- committed migrations, so everything here must be idempotent (create table if not exists,
-- add column if not exists, ...). Each area keeps its own section headed `-- == <AREA> ==`;
-- the lead commits this file into migrations/committed/ at the end.

-- == lead ==
-- The quota alert's day is the account's, which the rate budget keeps (daily_time_zone): the
-- setting that asked a DBA to type it again is gone.
delete from hubsync.settings where name = 'alerts.quota_time_zone';

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

-- Every property of a discovered object type as HubSpot defines it: publish() and plan() check
-- match keys and values against it.
create table if not exists hubsync.property_catalog (
  object_type text not null,
  name text not null,
  type text not null,
  field_type text,
  read_only boolean not null default false,
  unique_value boolean not null default false,
  options text[],
  primary key (object_type, name)
);
comment on table hubsync.property_catalog is 'Every HubSpot property of each discovered object type (type, read-only, unique value, enumeration options)';
