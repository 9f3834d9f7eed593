-- Housekeeping: the settings a DBA tunes, and the retention that keeps hubsync's own tables from
-- growing forever. The crontab's hubsync_prune job (src/core/retention.ts) calls
-- hubsync._prune_batch over and over, each call one short transaction, until nothing is left.

-- The retention defaults. A DBA's own values survive every install (do nothing on conflict).
insert into hubsync.settings (name, value, description) values
  ('retention.outbox_sent_days', '30', 'days a sent (or superseded) hubsync.outbox row is kept after it was sent'),
  ('retention.runs_detail_days', '7', 'days hubsync.runs keeps one row per run; older runs are summed per hour into hubsync.runs_hourly'),
  ('retention.runs_days', '30', 'days hubsync.runs_hourly keeps its hourly sums'),
  ('retention.webhook_events_days', '30', 'days an applied (or ignored) hubsync.webhook_events row is kept after it was applied'),
  ('retention.conflicts_days', '30', 'days a hubsync.conflicts row is kept'),
  ('retention.merges_days', '30', 'days a hubsync.merges row is kept; a change to a merged-away id made later is sent to the old id'),
  ('retention.refresh_requests_days', '7', 'days a done hubsync.refresh_requests row (hubsync.refresh) is kept after it was done'),
  ('retention.batch_rows', '1000', 'rows pruned per transaction: smaller holds row locks for less time, larger prunes a backlog faster')
on conflict (name) do nothing;

-- Changes one setting, with the checks its readers rely on: the name must exist (a typo would
-- otherwise be kept and silently ignored), and a number stays a whole number.
create or replace function hubsync.set_setting(name text, value text) returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  current_value text;
begin
  select s.value into current_value from hubsync.settings s where s.name = set_setting.name for update;
  if not found then
    raise exception using errcode = '22023',
      message = format('hubsync: unknown setting %L', set_setting.name),
      hint = format('The settings are: %s. See select name, value, description from hubsync.settings;',
                    (select string_agg(s.name, ', ' order by s.name) from hubsync.settings s));
  end if;
  if set_setting.value is null or btrim(set_setting.value) = '' then
    raise exception using errcode = '22023',
      message = format('hubsync: setting %s needs a value', set_setting.name),
      hint = format('Its value now is %s.', current_value);
  end if;
  if current_value ~ '^[0-9]+$' and (btrim(set_setting.value) !~ '^[0-9]{1,9}$'
                                     or (set_setting.name like 'retention.%' and btrim(set_setting.value)::integer < 1)) then
    raise exception using errcode = '22023',
      message = format('hubsync: setting %s must be a whole number%s, not %L', set_setting.name,
                       case when set_setting.name like 'retention.%' then ' of at least 1' else '' end, set_setting.value),
      hint = format('Its value now is %s: %s.', current_value,
                    (select s.description from hubsync.settings s where s.name = set_setting.name));
  end if;
  update hubsync.settings s set value = btrim(set_setting.value), updated_at = now() where s.name = set_setting.name;
  return format('%s: %s (was %s)', set_setting.name, btrim(set_setting.value), current_value);
end
$$;
revoke all on function hubsync.set_setting(text, text) from public;
grant execute on function hubsync.set_setting(text, text) to hubsync_admin;
comment on function hubsync.set_setting(text, text) is
  'Changes one of hubsync.settings (retention periods, alert thresholds); an unknown name or a value of the wrong kind is refused with the list of settings';

-- One batch of retention on one table: deletes at most batch_rows rows past their setting and
-- returns how many it deleted (0: that table is done). Rows another transaction holds are skipped
-- (the sync is using them; the next run prunes them), so pruning never waits on the sync, and the
-- sync waits at most one batch on a row being pruned. Runs are summed into hubsync.runs_hourly in
-- the same statement that deletes them, so a run is either in one or in the other. A run still
-- 'running' is left to the dead-worker check (status 'abandoned') before it is summed.
create or replace function hubsync._prune_batch(what text, batch_rows integer) returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
set lock_timeout = '2s'
as $$
declare
  days integer;
  cutoff timestamptz;
  n integer;
begin
  -- the change log: each type's own period (hubsync.objects.keep_changes)
  if what = 'changes' then
    delete from hubsync.changes r
     where r.ctid = any (array(select x.ctid from hubsync.changes x
                                left join hubsync.objects o on o.object_type = x.object_type
                               where x.applied_at < now() - coalesce(o.keep_changes, interval '30 days')
                               limit batch_rows for update of x skip locked));
    get diagnostics n = row_count;
    return n;
  end if;
  days := hubsync.setting(case what
                            when 'runs' then 'retention.runs_detail_days'
                            when 'runs_hourly' then 'retention.runs_days'
                            when 'outbox' then 'retention.outbox_sent_days'
                            when 'webhook_events' then 'retention.webhook_events_days'
                            when 'conflicts' then 'retention.conflicts_days'
                            when 'merges' then 'retention.merges_days'
                            when 'refresh_requests' then 'retention.refresh_requests_days'
                          end)::integer;
  if days is null then
    raise exception using errcode = '22023', message = format('hubsync: nothing to prune called %L', what);
  end if;
  cutoff := now() - make_interval(days => days);
  case what
    when 'runs' then
      with gone as (
             delete from hubsync.runs r
              where r.ctid = any (array(select x.ctid from hubsync.runs x
                                         where x.started_at < cutoff and x.status <> 'running'
                                         limit batch_rows for update skip locked))
             returning r.*),
           summed as (
             insert into hubsync.runs_hourly as h (hour, object_type, kind, status, runs, records, requests, rate_limited, ms)
             select date_trunc('hour', g.started_at), g.object_type, g.kind, g.status, count(*), sum(g.records), sum(g.requests),
                    sum(g.rate_limited), coalesce(sum(extract(epoch from g.finished_at - g.started_at) * 1000)::bigint, 0)
               from gone g
              group by 1, 2, 3, 4
             on conflict (hour, (coalesce(object_type, '')), kind, status) do update
                set runs = h.runs + excluded.runs, records = h.records + excluded.records, requests = h.requests + excluded.requests,
                    rate_limited = h.rate_limited + excluded.rate_limited, ms = h.ms + excluded.ms)
      select count(*) into n from gone;
    else
      -- the other tables: which rows are done with, by the time they were done
      execute format('delete from hubsync.%1$I r where r.ctid = any (array(select x.ctid from hubsync.%1$I x where %2$s limit $2 for update skip locked))',
                     what,
                     case what
                       when 'runs_hourly' then 'x.hour < $1'
                       when 'outbox' then 'x.status in (''sent'', ''superseded'') and coalesce(x.sent_at, x.created_at) < $1'
                       when 'webhook_events' then 'x.status in (''done'', ''ignored'') and x.processed_at < $1'
                       when 'conflicts' then 'x.at < $1'
                       when 'merges' then 'x.merged_at < $1'
                       when 'refresh_requests' then 'x.done_at < $1'
                     end)
        using cutoff, batch_rows;
      get diagnostics n = row_count;
  end case;
  return n;
end
$$;
revoke all on function hubsync._prune_batch(text, integer) from public;
