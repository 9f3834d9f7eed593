-- hubsync.status: one row per object type, what an operator asks first ("is it running, is it
-- current, is anything stuck"). `hubsync status` prints it as a table.

-- Row count of hubspot.<table_name>, cheap enough to evaluate on every look at the view: an exact
-- count(*) while the planner's estimate (pg_class.reltuples, kept by autovacuum/ANALYZE) is under
-- 100,000 rows or unknown, the estimate above that. Null while the table does not exist yet.
create or replace function hubsync._row_count(table_name text) returns bigint
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  rel regclass := case when _row_count.table_name is not null then to_regclass(format('hubspot.%I', _row_count.table_name)) end;
  estimate real;
  n bigint;
begin
  if rel is null then return null; end if;
  select c.reltuples into estimate from pg_catalog.pg_class c where c.oid = rel;
  if estimate >= 100000 then return estimate::bigint; end if;
  execute format('select count(*) from %s', rel) into n;
  return n;
end
$$;
revoke all on function hubsync._row_count(text) from public;

create or replace view hubsync.status as
select o.object_type,
       o.enabled,
       o.write_back,
       o.phase,
       hubsync._row_count(o.table_name) as rows,
       o.last_pull_at,
       now() - o.last_pull_at as lag,
       coalesce(ob.pending, 0) as pending,
       coalesce(ob.rejected, 0) as rejected,
       -- a portal-wide pause (daily quota used up, token refused) is what every enabled type is waiting for
       coalesce(case when o.enabled then pause.blocked_message end, o.last_error) as last_error,
       case when o.enabled and pause.blocked_message is not null then pause.paused_at else o.last_error_at end as last_error_at
  from hubsync.objects o
  left join hubsync.rate_budget pause on pause.bucket = 'general' and pause.blocked_reason in ('daily', 'auth', 'migration')
  left join (select outbox.object_type,
                    count(*) filter (where outbox.status in ('pending', 'in_flight')) as pending,
                    count(*) filter (where outbox.status = 'rejected') as rejected
               from hubsync.outbox
              group by outbox.object_type) ob on ob.object_type = o.object_type;

comment on view hubsync.status is
  'Per object type: enabled, write_back, phase, rows (exact below 100,000, else the planner estimate), '
  'last successful incremental pull, lag since then, pending and rejected outbox changes, last error';

grant select on hubsync.status to hubsync_admin;
