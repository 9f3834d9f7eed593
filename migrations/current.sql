-- Development migration (graphile-migrate's current.sql). `hubsync install` applies it after the
-- committed migrations, so everything here must be idempotent (create table if not exists,
-- add column if not exists, ...). Each area keeps its own section headed `-- == <AREA> ==`;
-- the lead commits this file into migrations/committed/ at the end.

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
