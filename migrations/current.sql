-- Development migration (graphile-migrate's current.sql). `hubsync install` applies it after the
-- committed migrations, so everything here must be idempotent (create table if not exists,
-- add column if not exists, ...). Each area keeps its own section headed `-- == <AREA> ==`;
-- the lead commits this file into migrations/committed/ at the end.

-- == h-ops ==
-- Operating settings a DBA tunes with hubsync.set_setting() (sql/70_housekeeping.sql): retention
-- periods here, alert thresholds elsewhere. Values are text; each reader casts its own.
create table if not exists hubsync.settings (name text primary key, value text not null, description text not null, updated_at timestamptz not null default now());
create or replace function hubsync.setting(p_name text) returns text language sql stable as $$ select value from hubsync.settings where name = p_name $$;
comment on table hubsync.settings is 'Operating settings (retention periods, alert thresholds); change them with hubsync.set_setting(name, value)';
comment on function hubsync.setting(text) is 'The value of one of hubsync.settings (null for an unknown name)';

-- A run carries the id of the worker process that runs it (graphile-worker's pool id, whose
-- liveness lock that process holds), so a run left 'running' by a killed worker can be told from
-- one that is still going and closed as 'abandoned'.
alter table hubsync.runs add column if not exists worker_id text;
alter table hubsync.runs drop constraint if exists runs_status_check;
alter table hubsync.runs add constraint runs_status_check check (status in ('running', 'ok', 'error', 'abandoned'));
create index if not exists runs_running_idx on hubsync.runs (worker_id) where status = 'running';
-- Retention finds the oldest rows of each table by these.
create index if not exists runs_started_at_idx on hubsync.runs (started_at);
create index if not exists outbox_done_idx on hubsync.outbox (coalesce(sent_at, created_at)) where status in ('sent', 'superseded');
create index if not exists conflicts_at_idx on hubsync.conflicts (at);
create index if not exists merges_merged_at_idx on hubsync.merges (merged_at);

-- hubsync.runs older than retention.runs_detail_days, one row per hour, object type, kind and
-- status, kept for retention.runs_days.
create table if not exists hubsync.runs_hourly (
  hour timestamptz not null,
  object_type text,
  kind text not null,
  status text not null,
  runs integer not null default 0,
  records bigint not null default 0,
  requests bigint not null default 0,
  rate_limited bigint not null default 0,
  ms bigint not null default 0                -- summed run durations (finished_at - started_at)
);
create unique index if not exists runs_hourly_key on hubsync.runs_hourly (hour, (coalesce(object_type, '')), kind, status);
comment on table hubsync.runs_hourly is
  'hubsync.runs older than retention.runs_detail_days, summed per hour, object type, kind and status (runs, records, requests, 429s, ms)';
