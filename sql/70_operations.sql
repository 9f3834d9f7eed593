-- Operating hubsync: the totals behind the Prometheus metrics (`hubsync worker --metrics-port`),
-- and hubsync.alerts, what needs a person, with the check that turns its changes into NOTIFYs and
-- webhook posts. Thresholds live in hubsync.settings (migrations/current.sql).

-- Adds to hubsync.metric_totals in key order, so two transactions adding to the same totals wait
-- for each other instead of deadlocking.
create or replace function hubsync._add_totals(p_rows jsonb) returns void
language sql security definer
set search_path = pg_catalog, pg_temp
as $$
  insert into hubsync.metric_totals as t (metric, object_type, kind, result, value)
  select x.metric, coalesce(x.object_type, ''), coalesce(x.kind, ''), coalesce(x.result, ''), x.value
    from jsonb_to_recordset(p_rows) as x(metric text, object_type text, kind text, result text, value bigint)
   where x.value > 0
   order by 1, 2, 3, 4
  on conflict (metric, object_type, kind, result) do update set value = t.value + excluded.value
$$;
revoke all on function hubsync._add_totals(jsonb) from public;

-- A run that ends (leaves 'running'): one more run of its kind and result, and for every kind but
-- push (whose changes are counted by the outbox) the records it pulled.
create or replace function hubsync._tg_runs_totals() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform hubsync._add_totals(coalesce(jsonb_agg(t), '[]'))
     from (select 'runs' as metric, n.object_type, n.kind, n.status as result, count(*) as value
             from new_rows n join old_rows o on o.id = n.id
            where o.status = 'running' and n.status <> 'running'
            group by n.object_type, n.kind, n.status
           union all
           select 'records_pulled', n.object_type, n.kind, n.status, sum(n.records)
             from new_rows n join old_rows o on o.id = n.id
            where o.status = 'running' and n.status <> 'running' and n.kind <> 'push'
            group by n.object_type, n.kind, n.status) t;
  return null;
end
$$;
revoke all on function hubsync._tg_runs_totals() from public;
create or replace trigger hubsync_runs_totals after update on hubsync.runs
  referencing old table as old_rows new table as new_rows
  for each statement execute function hubsync._tg_runs_totals();

-- A local change that reached its end: sent, rejected (by HubSpot, or refused locally before it was
-- ever sent) or superseded by a later change to the same record. Updates come from the push, a
-- statement at a time, and are counted per statement. Inserts come one row at a time from the
-- write-back trigger inside the user's own UPDATE, and almost all of them are 'pending': a row
-- trigger whose WHEN clause PostgreSQL checks without calling any function keeps that path free.
create or replace function hubsync._tg_outbox_totals() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform hubsync._add_totals(coalesce(jsonb_agg(t), '[]'))
     from (select 'records_pushed' as metric, n.object_type, n.op as kind, n.status as result, count(*) as value
             from new_rows n join old_rows o on o.id = n.id
            where n.status in ('sent', 'rejected', 'superseded') and o.status is distinct from n.status
            group by n.object_type, n.op, n.status) t;
  return null;
end
$$;
revoke all on function hubsync._tg_outbox_totals() from public;
create or replace function hubsync._tg_outbox_totals_inserted() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform hubsync._add_totals(jsonb_build_array(jsonb_build_object(
    'metric', 'records_pushed', 'object_type', new.object_type, 'kind', new.op, 'result', new.status, 'value', 1)));
  return null;
end
$$;
revoke all on function hubsync._tg_outbox_totals_inserted() from public;
drop trigger if exists hubsync_outbox_totals_insert on hubsync.outbox;
create trigger hubsync_outbox_totals_insert after insert on hubsync.outbox
  for each row when (new.status in ('sent', 'rejected', 'superseded'))
  execute function hubsync._tg_outbox_totals_inserted();
create or replace trigger hubsync_outbox_totals_update after update on hubsync.outbox
  referencing old table as old_rows new table as new_rows
  for each statement execute function hubsync._tg_outbox_totals();

create or replace function hubsync._tg_conflicts_totals() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform hubsync._add_totals(coalesce(jsonb_agg(t), '[]'))
     from (select 'conflicts' as metric, n.object_type, n.policy as kind, n.winner as result, count(*) as value
             from new_rows n group by n.object_type, n.policy, n.winner) t;
  return null;
end
$$;
revoke all on function hubsync._tg_conflicts_totals() from public;
create or replace trigger hubsync_conflicts_totals after insert on hubsync.conflicts
  referencing new table as new_rows
  for each statement execute function hubsync._tg_conflicts_totals();

-- A setting of hubsync.settings as a number, with the default used when a DBA deleted the row or
-- wrote something that is not a number (an alert must not vanish over a typo).
create or replace function hubsync._setting_number(p_name text, p_default numeric) returns numeric
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v text := hubsync.setting(p_name);
begin
  return coalesce(v::numeric, p_default);
exception when others then
  return p_default;
end
$$;

-- Live hubsync workers: sessions holding a worker's liveness lock (src/core/worker/liveness.ts
-- takes a session advisory lock on a connection named 'hubsync worker liveness').
create or replace function hubsync._live_workers() returns bigint
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select count(distinct a.pid)
    from pg_catalog.pg_stat_activity a
    join pg_catalog.pg_locks l on l.pid = a.pid and l.locktype = 'advisory' and l.granted
   where a.datname = current_database() and a.application_name = 'hubsync worker liveness'
$$;
revoke all on function hubsync._live_workers() from public;

-- Worker pools holding graphile-worker jobs (or queues) whose liveness lock nobody holds: their
-- process is gone and no live worker released them yet. An advisory lock on a bigint key shows in
-- pg_locks as classid = its high 32 bits, objid = its low 32 bits, objsubid = 1.
create or replace function hubsync._dead_worker_pools() returns table (worker_pool text, locked_at timestamptz, jobs bigint)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select l.locked_by, min(l.locked_at), count(*) filter (where l.is_job)
    from (select j.locked_by, j.locked_at, true as is_job from hubsync_worker._private_jobs j where j.locked_by is not null
          union all
          select q.locked_by, q.locked_at, false from hubsync_worker._private_job_queues q where q.locked_by is not null) l
   where not exists (
           select from pg_catalog.pg_locks k
            where k.locktype = 'advisory' and k.granted and k.objsubid = 1 and k.database = (select oid from pg_catalog.pg_database where datname = current_database())
              and k.classid::bigint = ((hashtextextended('hubsync worker ' || l.locked_by, 0) >> 32) & 4294967295)
              and k.objid::bigint = (hashtextextended('hubsync worker ' || l.locked_by, 0) & 4294967295))
   group by l.locked_by
$$;
revoke all on function hubsync._dead_worker_pools() from public;

-- The zone if PostgreSQL knows it, else UTC. Tried rather than looked up in pg_timezone_names,
-- which reads every zone PostgreSQL has (several hundred ms, each time hubsync.alerts is read).
create or replace function hubsync._known_time_zone(zone text) returns text
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
  perform now() at time zone zone;
  return zone;
exception when invalid_parameter_value then
  return 'UTC';
end
$$;
revoke all on function hubsync._known_time_zone(text) from public;

create or replace view hubsync.alerts as
with s as (
  select hubsync._setting_number('alerts.error_minutes', 15) as error_minutes,
         hubsync._setting_number('alerts.pull_lag_minutes', 30) as lag_minutes,
         hubsync._setting_number('alerts.quota_projected_percent', 100) as quota_percent,
         hubsync._setting_number('alerts.webhook_failing_minutes', 10) as webhook_minutes,
         hubsync._setting_number('alerts.worker_dead_seconds', 120) as dead_seconds
),
pause as (
  select r.blocked_reason, r.blocked_message, r.paused_at from hubsync.rate_budget r
   where r.bucket = 'general' and r.blocked_reason in ('daily', 'auth', 'migration') and r.blocked_until > now()
),
-- A missing scope pauses only the calls needing it: the 403 sentence is the object's last error
-- (pulls) or a waiting change's (pushes).
scopes as (
  select o.object_type, o.last_error as message, o.last_error_at as since from hubsync.objects o
   where o.enabled and o.last_error like '%(403 %' and o.last_error_at > coalesce(o.last_pull_at, '-infinity')
  union all
  select ob.object_type, min(ob.error_message), min(ob.last_attempt_at) from hubsync.outbox ob
   where ob.status = 'pending' and ob.error_category = 'PAUSED' and ob.error_message like '%(403 %'
   group by ob.object_type
),
-- The day is the account's: its midnight resets HubSpot's quota, and the rate budget keeps its zone
-- (learned from HubSpot, or HUBSYNC_DAILY_RESET_TZ). A zone PostgreSQL does not know would fail the
-- whole view: UTC instead.
quota as (
  select r.daily_limit, r.daily_remaining, r.daily_seen_at, z.zone,
         extract(epoch from (r.daily_seen_at at time zone z.zone) - date_trunc('day', r.daily_seen_at at time zone z.zone)) as elapsed_s,
         date_trunc('day', now() at time zone z.zone) = date_trunc('day', r.daily_seen_at at time zone z.zone) as today
    from hubsync.rate_budget r
   cross join lateral (select hubsync._known_time_zone(coalesce(r.daily_time_zone, 'UTC')) as zone) z
   where r.bucket = 'general' and r.daily_limit > 0 and r.daily_remaining is not null
)
select 'rejected_changes'::text as kind,
       ob.object_type as subject,
       format('%s change(s) to %s rejected by HubSpot or refused locally; the newest: %s', count(*), ob.object_type,
              (array_agg(ob.error_message order by ob.id desc))[1]) as message,
       min(ob.created_at) as since,
       format('select * from hubsync.outbox where status = ''rejected'' and object_type = %L; fix the data, then select hubsync.retry_rejected(%L)', ob.object_type, ob.object_type) as action
  from hubsync.outbox ob
 where ob.status = 'rejected'
 group by ob.object_type
union all
select 'type_error', o.object_type,
       format('%s has not synced for %s minutes: %s', o.object_type, s.error_minutes, o.last_error),
       o.last_error_at,
       'read the error (select * from hubsync.status); the worker retries every minute, fix what it names'
  from hubsync.objects o, s
 where o.enabled and o.last_error is not null and o.last_error not like '%(403 %'
   and (o.phase = 'error' or o.last_error_at > coalesce(o.last_pull_at, '-infinity'))
   and coalesce(o.last_pull_at, o.enabled_at) < now() - make_interval(mins => s.error_minutes::int)
   and not exists (select from pause)
union all
select 'pull_lag', o.object_type,
       format('%s was last pulled %s ago (alert after %s minutes)', o.object_type, date_trunc('second', now() - o.last_pull_at), s.lag_minutes),
       o.last_pull_at + make_interval(mins => s.lag_minutes::int),
       'is a worker running (hubsync.alerts worker_dead)? is HubSpot paused? look at hubsync.runs for this type'
  from hubsync.objects o, s
 where o.enabled and o.phase = 'live' and o.last_pull_at < now() - make_interval(mins => s.lag_minutes::int)
union all
select 'hubspot_paused', p.blocked_reason,
       coalesce(p.blocked_message, format('HubSpot calls are paused (%s)', p.blocked_reason)),
       coalesce(p.paused_at, now()),
       case p.blocked_reason
         when 'auth' then 'HubSpot refuses the access token: put a valid one in HUBSPOT_ACCESS_TOKEN and restart the worker'
         when 'daily' then 'the daily API quota is used up: hubsync resumes at the reset; raise the quota or lower the load (fewer types, HUBSYNC_RATE_HEADROOM)'
         else 'the HubSpot account is being migrated: hubsync probes and resumes on its own' end
  from pause p
union all
select 'hubspot_paused', 'scopes:' || sc.object_type, min(sc.message), min(sc.since),
       'add the scope the message names to the token (Service Key or app) in HubSpot; the calls resume within minutes'
  from scopes sc
 group by sc.object_type
union all
select 'quota_projected', 'daily',
       format('%s of %s daily HubSpot calls used by %s; at this pace the day ends at %s (%s%% of the quota)',
              q.daily_limit - q.daily_remaining, q.daily_limit, to_char(q.daily_seen_at at time zone q.zone, 'HH24:MI'),
              round((q.daily_limit - q.daily_remaining) * 86400 / q.elapsed_s), round(100 * (q.daily_limit - q.daily_remaining) * 86400 / q.elapsed_s / q.daily_limit)),
       q.daily_seen_at,
       'find what spends calls (select kind, sum(requests) from hubsync.runs where started_at > now() - interval ''1 hour'' group by 1); lower HUBSYNC_RATE_HEADROOM or disable types before the quota stops all syncing'
  from quota q, s
 where q.today and q.elapsed_s >= 1800 and not exists (select from pause where blocked_reason = 'daily')
   and (q.daily_limit - q.daily_remaining) * 86400 / q.elapsed_s > q.daily_limit * s.quota_percent / 100
union all
select 'webhook_failing', 'inbox',
       format('%s received webhook event(s) keep failing to apply; the last error: %s', count(*), (array_agg(e.error order by e.id desc))[1]),
       min(e.received_at),
       'read hubsync.webhook_events where status = ''failed''; the minute pull still brings the changes, fix what the error names'
  from hubsync.webhook_events e, s
 where e.status = 'failed' and e.received_at < now() - make_interval(mins => s.webhook_minutes::int)
 group by s.webhook_minutes
having count(*) > 0
union all
select 'worker_dead', 'pool:' || d.worker_pool,
       format('a worker that is gone (killed, or lost its database) still holds %s job(s) since %s, and no live worker released them', d.jobs, date_trunc('second', d.locked_at)),
       d.locked_at,
       'start `hubsync worker` (it releases the jobs at start); find out why the worker died (its logs, OOM kills)'
  from hubsync._dead_worker_pools() d, s
 where d.locked_at < now() - make_interval(secs => s.dead_seconds::int)
union all
select 'worker_dead', 'none running',
       'no hubsync worker is running: nothing is pulled or pushed',
       now(),
       'start `hubsync worker` (under your supervisor: systemd, Kubernetes, compose) and look at why it stopped'
  from s
 where hubsync._live_workers() = 0
   and exists (select from hubsync.objects o where o.enabled and o.enabled_at < now() - make_interval(secs => s.dead_seconds::int));

comment on view hubsync.alerts is
  'What needs a person now, one row per alert (kind + subject): rejected_changes, type_error, pull_lag, hubspot_paused '
  '(token refused, daily quota out, account migration, or scopes:<type> for a missing scope), quota_projected, '
  'webhook_failing, worker_dead; with since when, a message and what to do. Thresholds: hubsync.settings (alert_*). '
  'Every open and close is NOTIFY hubsync_alerts and, with HUBSYNC_ALERT_WEBHOOK_URL, one POST';
grant select on hubsync.alerts to hubsync_admin;

-- Compares hubsync.alerts with hubsync.alert_state: an alert that appeared opens, one that went
-- closes; each transition is logged in hubsync.alert_events and NOTIFYed on channel hubsync_alerts
-- (payload: the event as JSON). Serialised, so two processes checking at once record each
-- transition once.
create or replace function hubsync.check_alerts() returns setof hubsync.alert_events
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  ev hubsync.alert_events;
begin
  perform pg_advisory_xact_lock(hashtextextended('hubsync alerts', 0));
  for ev in
    with now_open as materialized (select a.kind, a.subject, a.message from hubsync.alerts a),
    opened as (
      insert into hubsync.alert_state (kind, subject, message)
      select distinct on (n.kind, n.subject) n.kind, n.subject, n.message from now_open n
       where not exists (select from hubsync.alert_state st where st.kind = n.kind and st.subject = n.subject)
      returning kind, subject, message),
    closed as (
      delete from hubsync.alert_state st
       where not exists (select from now_open n where n.kind = st.kind and n.subject = st.subject)
      returning kind, subject, message)
    insert into hubsync.alert_events (kind, subject, transition, message)
    select kind, subject, 'open', message from opened
    union all
    select kind, subject, 'close', message from closed
    returning *
  loop
    perform pg_notify('hubsync_alerts', json_build_object('id', ev.id, 'kind', ev.kind, 'subject', ev.subject, 'transition', ev.transition, 'message', ev.message, 'at', ev.at)::text);
    return next ev;
  end loop;
end
$$;
comment on function hubsync.check_alerts() is
  'Opens and closes alerts by comparing hubsync.alerts with the last check: each transition becomes a row of '
  'hubsync.alert_events and a NOTIFY hubsync_alerts; returns the transitions. Workers call it every alerts.check_seconds';
