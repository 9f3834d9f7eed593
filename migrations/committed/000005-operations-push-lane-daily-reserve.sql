--! Previous: sha1:ea6e60b1abd05499bf9c7021381d4a9e78bbdc20
--! Hash: sha1:5bd352cc2b4d58f64e9e2b38aeac6c1b29a39385
--! Message: settings, retention and abandoned runs, metrics and alerts, push lane and daily reserve in the rate budget

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

-- == h-metrics ==
-- The thresholds of hubsync.alerts, in hubsync.settings (created above).
insert into hubsync.settings (name, value, description) values
  ('alerts.error_minutes', '15', 'hubsync.alerts: an object type whose pulls have failed for this many minutes (no successful pull since) is an alert'),
  ('alerts.pull_lag_minutes', '30', 'hubsync.alerts: an enabled, live object type whose last successful pull is older than this many minutes is an alert'),
  ('alerts.quota_projected_percent', '100', 'hubsync.alerts: alert when today''s HubSpot calls, projected to the end of the day at today''s pace, exceed this percent of the daily quota'),
  ('alerts.quota_time_zone', 'UTC', 'hubsync.alerts: the time zone whose midnight resets HubSpot''s daily quota (the HubSpot account''s), for the quota projection'),
  ('alerts.webhook_failing_minutes', '10', 'hubsync.alerts: a received webhook event whose apply has kept failing this many minutes is an alert'),
  ('alerts.worker_dead_seconds', '120', 'hubsync.alerts: alert when jobs are held this many seconds by a worker whose process is gone, or no worker has been running this long while a type is enabled'),
  ('alerts.check_seconds', '30', 'How often each worker (and webhooks receiver) compares hubsync.alerts with the last state, NOTIFYs hubsync_alerts and posts to HUBSYNC_ALERT_WEBHOOK_URL')
  on conflict (name) do nothing;

-- Running totals the Prometheus metrics read (src/core/metrics/): kept by triggers when a run
-- ends, an outbox change is sent/rejected/superseded and a conflict is logged, so they only ever
-- grow (counters), whatever retention later deletes from runs, outbox and conflicts.
create table if not exists hubsync.metric_totals (
  metric text not null,
  object_type text not null default '',
  kind text not null default '',
  result text not null default '',
  value bigint not null default 0,
  primary key (metric, object_type, kind, result)
);
comment on table hubsync.metric_totals is
  'Ever-growing totals behind `/metrics` (records pulled and pushed, runs, conflicts) by object type, kind and result; kept by triggers';

-- The alerts open now (one row per alert, key kind + subject), and every open and close, with
-- its delivery to HUBSYNC_ALERT_WEBHOOK_URL.
create table if not exists hubsync.alert_state (
  kind text not null,
  subject text not null,
  message text not null,
  opened_at timestamptz not null default now(),
  primary key (kind, subject)
);
comment on table hubsync.alert_state is 'The alerts of hubsync.alerts open at the last check (hubsync.check_alerts()), and since when';
create table if not exists hubsync.alert_events (
  id bigint generated always as identity primary key,
  kind text not null,
  subject text not null,
  transition text not null check (transition in ('open', 'close')),
  message text not null,
  at timestamptz not null default now(),
  delivered_at timestamptz,
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error text
);
create index if not exists alert_events_undelivered on hubsync.alert_events (next_attempt_at, id) where delivered_at is null;
comment on table hubsync.alert_events is
  'Every alert that opened or closed, and its post to HUBSYNC_ALERT_WEBHOOK_URL (delivered_at, attempts, last_error)';

-- == h-pushcap ==
-- The pushes' lane in the rate budget (sql/30_pull_rate_budget.sql, hubsync.rate_reserve with
-- p_push): push_slots = the push reservations still inside the window (a subset of slots, only
-- counted), push_share = the fraction of each window pushes may take ahead of everyone else,
-- push_waiting_until = a push is waiting for the next free slot: other reservations hold back
-- until then (a lease, so a push that died while waiting holds nobody back for long).
alter table hubsync.rate_budget add column if not exists push_slots timestamptz[] not null default '{}';
alter table hubsync.rate_budget add column if not exists push_share real not null default 0.5 check (push_share >= 0 and push_share <= 1);
alter table hubsync.rate_budget add column if not exists push_waiting_until timestamptz;

-- == h-reserve ==
-- The day's quota as hubsync tracks it between HubSpot's headers: the reserve left to the portal's
-- other apps, the floor where background scans stop, when the day began and ends (midnight in the
-- account's time zone) and that zone, for hubsync.status's projection.
alter table hubsync.rate_budget
  add column if not exists daily_reserve bigint,
  add column if not exists daily_background_floor bigint,
  add column if not exists daily_period_start timestamptz,
  add column if not exists daily_resets_at timestamptz,
  add column if not exists daily_time_zone text;
