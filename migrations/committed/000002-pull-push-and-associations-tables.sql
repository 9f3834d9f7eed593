--! Previous: sha1:8629db45e575c98287141b5ce56c7fddc4bd633a
--! Hash: sha1:9edb03626c8affa328f1d601f77a50fe4d28edcd
--! Message: pull, push and associations tables

-- == PULL ==
-- Portal-wide HubSpot rate budget (functions in sql/30_pull_rate_budget.sql).
-- One row per bucket: 'general' (the 10-second burst limit, also carrying the daily quota as
-- HubSpot reports it in X-HubSpot-RateLimit-Daily(-Remaining)), 'search' (the per-second search
-- limit) and 'associations' (v4 association batch calls: exempt from the burst limit, daily only).
create table if not exists hubsync.rate_budget (
  bucket text primary key check (bucket in ('general', 'search', 'associations')),
  capacity integer not null check (capacity > 0),   -- reservations allowed per window (HubSpot's limit minus headroom)
  window_ms integer not null check (window_ms > 0),
  slots timestamptz[] not null default '{}',        -- times of the reservations still inside the window, oldest first
  blocked_until timestamptz,                        -- after a 429 or the daily stop: nobody sends before this
  blocked_reason text,
  requests bigint not null default 0,               -- reservations granted (all processes)
  rate_limited bigint not null default 0,           -- 429s received (all processes)
  daily_limit bigint, daily_remaining bigint, daily_seen_at timestamptz,
  updated_at timestamptz not null default now()
);
alter table hubsync.rate_budget drop constraint if exists rate_budget_bucket_check;
alter table hubsync.rate_budget add constraint rate_budget_bucket_check check (bucket in ('general', 'search', 'associations'));
insert into hubsync.rate_budget (bucket, capacity, window_ms)
  values ('general', 90, 10000), ('search', 4, 1000), ('associations', 1, 1000)
  on conflict (bucket) do nothing;
-- How far behind its watermark each incremental pull searches again (search's index lag); null = 5 minutes.
alter table hubsync.objects add column if not exists lag_window_ms integer check (lag_window_ms >= 0);

-- == PUSH ==
-- Write-back bookkeeping on top of the outbox's base shape (000001), and the conflict log.
-- previous: the values the changed properties had before the local change, HubSpot-encoded, so a
-- pulled value can be told apart from "HubSpot has not got our change yet" and so on_reject =
-- 'revert' can restore them. error_status: HubSpot's HTTP status for the last failure.
alter table hubsync.outbox add column if not exists previous jsonb not null default '{}';
alter table hubsync.outbox add column if not exists error_status integer;
alter table hubsync.outbox add column if not exists last_attempt_at timestamptz;
create index if not exists outbox_due_idx on hubsync.outbox (object_type, next_attempt_at, id) where status = 'pending';
create index if not exists outbox_local_id_idx on hubsync.outbox (local_id) where status in ('pending', 'in_flight', 'rejected');

create table if not exists hubsync.conflicts (
  id bigint generated always as identity primary key,
  object_type text not null,
  record_id text,
  local_id uuid,
  property text not null,
  local_value text,                          -- HubSpot-encoded, '' = empty
  hubspot_value text,
  base_value text,                           -- what both sides had before the two changes
  policy text not null,
  winner text not null check (winner in ('hubspot', 'postgres', 'merged')),
  resolved_value text,
  local_changed_at timestamptz,
  hubspot_changed_at timestamptz,
  outbox_id bigint,
  at timestamptz not null default now()
);
create index if not exists conflicts_object_idx on hubsync.conflicts (object_type, at);
comment on table hubsync.conflicts is
  'A pulled HubSpot change met a pending local change to the same property; how hubsync.objects.conflict_policy settled it';

-- == ASSOC ==
-- One row per association table hubspot.associations_<a>_<b> (a, b: singular names in alphabetical
-- order; one table per unordered pair of object types). read_side: which end's ids the last sweep
-- read (the end with fewer local rows). type_map: association type ids b→a → a→b, learned from data
-- (HubSpot's labels API does not say which id is which one's inverse), used when reading from b.
create table if not exists hubsync.association_pairs (
  table_name text primary key,
  a_type text not null references hubsync.objects (object_type) on delete cascade,
  b_type text not null references hubsync.objects (object_type) on delete cascade,
  a_column text not null,
  b_column text not null,
  type_map jsonb not null default '{}',
  read_side text check (read_side in ('a', 'b')),
  rows bigint not null default 0,
  backfilled_at timestamptz,
  last_sweep_at timestamptz,
  last_sweep_requests integer,
  last_sweep_changes integer,
  last_error text,
  last_error_at timestamptz,
  created_at timestamptz not null default now(),
  unique (a_type, b_type)
);
comment on table hubsync.association_pairs is
  'One row per hubspot.associations_<a>_<b> table: its two object types, last backfill/sweep, row count, last error';
-- Sweeps leave the pair alone until then: it was empty at its last sweep, or HubSpot refused to read it (4xx).
alter table hubsync.association_pairs add column if not exists rest_until timestamptz;
