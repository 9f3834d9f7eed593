-- The health views: what an operator asks first ("is it running, is it current, is anything
-- stuck"). `hubsync status` prints hubsync.status as a table. Readers (hubspot_reader) may see
-- them: counts, times and the last error, nothing of the outbox's content.

-- Row count of hubspot.<table_name>, cheap enough to evaluate on every look at the view: an exact
-- count(*) while the planner's estimate (pg_class.reltuples, kept by autovacuum/ANALYZE) is under
-- 100,000 rows or unknown, the estimate above that. Null while the table does not exist yet.
-- SECURITY DEFINER and executable by readers: a view's caller needs execute on the functions it
-- calls, and this one reads only hubspot.* tables, which readers may read anyway.
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
grant execute on function hubsync._row_count(text) to hubspot_reader;

-- The object types HubSpot sends webhooks for: an app's webhook subscriptions cover contacts,
-- companies, deals, tickets, products and line items (and conversations, which hubsync does not
-- sync). Every other type, custom objects included, changes in Postgres only when a pull runs.
create or replace function hubsync.webhook_object_types() returns text[]
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
  select array['contacts', 'companies', 'deals', 'tickets', 'products', 'line_items']
$$;
comment on function hubsync.webhook_object_types() is
  'The object types HubSpot sends webhooks for (hubsync webhooks brings their changes within a second); '
  'every other type, custom objects included, waits for the minute pull';

-- Per association table (src/core/associations/ creates and fills them): its object types, rows,
-- last backfill and sweep, last error.
create or replace view hubsync.association_status as
select p.table_name,
       p.a_type,
       p.b_type,
       oa.enabled and ob.enabled as enabled,
       hubsync._row_count(p.table_name) as rows,
       p.backfilled_at,
       p.last_sweep_at,
       now() - p.last_sweep_at as since_sweep,
       p.last_sweep_requests,
       p.last_sweep_changes,
       p.read_side,
       p.last_error,
       p.last_error_at,
       p.rest_until
  from hubsync.association_pairs p
  join hubsync.objects oa on oa.object_type = p.a_type
  join hubsync.objects ob on ob.object_type = p.b_type;

comment on view hubsync.association_status is
  'Per hubspot.associations_<a>_<b> table: object types, rows, last backfill and sweep (API requests and rows changed), '
  'which end the sweep reads, last error, and until when sweeps leave it alone (empty, or refused by HubSpot)';
grant select on hubsync.association_status to hubsync_admin, hubspot_reader;

-- A moment as the account's clock shows it: '17:40 America/New_York'.
create or replace function hubsync._account_time(p_at timestamptz, p_zone text) returns text
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select to_char(p_at at time zone coalesce(p_zone, 'UTC'), 'HH24:MI ') || coalesce(p_zone, 'UTC')
$$;

-- The day's HubSpot quota (the account's, shared by all its apps) in one sentence: how much is used
-- and when, at the day's pace so far, the calls hubsync may use (all but the reserve left to the
-- portal's other apps) run out, in the account's time zone. From the figures of hubsync.rate_budget's
-- 'general' row, projected from p_now. A pure function: the status views call it for readers, who
-- may not read hubsync.rate_budget themselves.
create or replace function hubsync._daily_projection(d_limit bigint, d_remaining bigint, d_reserve bigint, d_start timestamptz,
                                                     d_resets timestamptz, d_zone text, p_now timestamptz) returns text
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select case
    when d_limit is null or d_remaining is null or d_resets is null
      then 'HubSpot reports no daily limit for this token (none yet, or an OAuth app)'
    when d_resets <= p_now
      then format('the quota reset at %s; today''s figures come with the next call', hubsync._account_time(d_resets, d_zone))
    when d_remaining <= coalesce(d_reserve, 0)
      then format('%s of %s calls used: down to the reserve of %s left to the portal''s other apps; hubsync waits for the reset at %s',
                  d_limit - greatest(d_remaining, 0), d_limit, d_reserve, hubsync._account_time(d_resets, d_zone))
    when d_limit - d_remaining <= 0 or p_now <= coalesce(d_start, p_now)
         or p_now + (d_remaining - coalesce(d_reserve, 0)) * ((p_now - d_start) / (d_limit - d_remaining)) >= d_resets
      then format('%s of %s calls used: at this pace the quota lasts the day (resets at %s)',
                  d_limit - d_remaining, d_limit, hubsync._account_time(d_resets, d_zone))
    else format('%s of %s calls used: at this pace the quota (less the reserve of %s) lasts until %s',
                d_limit - d_remaining, d_limit, coalesce(d_reserve, 0),
                hubsync._account_time(p_now + (d_remaining - coalesce(d_reserve, 0)) * ((p_now - d_start) / (d_limit - d_remaining)), d_zone))
  end
$$;

create or replace function hubsync.daily_quota_projection(p_now timestamptz default now()) returns text
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select hubsync._daily_projection(g.daily_limit, g.daily_remaining, g.daily_reserve, g.daily_period_start, g.daily_resets_at, g.daily_time_zone, p_now)
    from hubsync.rate_budget g where g.bucket = 'general'
$$;
comment on function hubsync.daily_quota_projection(timestamptz) is
  'The day''s HubSpot API quota in a sentence, projected from a moment (default now): calls used of the daily limit, and '
  'when at the day''s pace so far the calls hubsync may use (all but HUBSYNC_DAILY_RESERVE) run out, in the account''s '
  'time zone. hubsync.status.daily_quota_projection is the same for now';
revoke all on function hubsync.daily_quota_projection(timestamptz) from public;
grant execute on function hubsync.daily_quota_projection(timestamptz) to hubsync_admin;

-- The day's quota as one row (hubsync.status repeats it on each of its rows). Before the first
-- answer of a new day, yesterday's figures are not shown as today's.
create or replace view hubsync._daily_quota as
select case when g.daily_resets_at > now() then g.daily_limit - greatest(g.daily_remaining, 0) end as daily_calls_used,
       g.daily_limit,
       g.daily_reserve,
       hubsync._daily_projection(g.daily_limit, g.daily_remaining, g.daily_reserve, g.daily_period_start, g.daily_resets_at,
                                 g.daily_time_zone, now()) as daily_quota_projection
  from (select 1) one
  left join hubsync.rate_budget g on g.bucket = 'general';

-- One row per object type, then one per association table. An association table's row reads as an
-- object type's would: object_type is the table's name, phase 'backfilling' until its first fill,
-- last_pull_at its last sweep, write_back whether either end writes back, pending/rejected the
-- association changes waiting in the outbox.
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
       case when o.enabled and pause.blocked_message is not null then pause.paused_at else o.last_error_at end as last_error_at,
       case when o.object_type = any (hubsync.webhook_object_types()) then 'webhooks' else 'pull' end as changes,
       day.daily_calls_used,
       day.daily_limit,
       day.daily_reserve,
       day.daily_quota_projection,
       hist.properties as history_properties,
       o.history_calls,
       o.backfill_since
  from hubsync.objects o
  cross join hubsync._daily_quota day
  left join lateral (select array_agg(hp.property_name || case when hp.backfilled_at is null then ' (reading)' else '' end
                                      order by hp.property_name) as properties
                       from hubsync.history_properties hp where hp.object_type = o.object_type) hist on true
  left join hubsync.rate_budget pause on pause.bucket = 'general' and pause.blocked_reason in ('daily', 'auth', 'migration')
  left join (select outbox.object_type,
                    count(*) filter (where outbox.status in ('pending', 'in_flight')) as pending,
                    count(*) filter (where outbox.status = 'rejected') as rejected
               from hubsync.outbox
              group by outbox.object_type) ob on ob.object_type = o.object_type
union all
select a.table_name,
       a.enabled,
       coalesce(w.write_back, false),
       case when a.backfilled_at is null then 'backfilling' else 'live' end,
       a.rows,
       a.last_sweep_at,
       a.since_sweep,
       coalesce(ob.pending, 0),
       coalesce(ob.rejected, 0),
       a.last_error,
       a.last_error_at,
       case when a.a_type = any (hubsync.webhook_object_types()) or a.b_type = any (hubsync.webhook_object_types())
            then 'webhooks' else 'pull' end,
       day.daily_calls_used,
       day.daily_limit,
       day.daily_reserve,
       day.daily_quota_projection,
       null::text[],
       null::bigint,
       null::timestamptz
  from hubsync.association_status a
  cross join hubsync._daily_quota day
  left join lateral (select bool_or(o.write_back) as write_back from hubsync.objects o
                      where o.object_type in (a.a_type, a.b_type)) w on true
  left join lateral (select count(*) filter (where x.status in ('pending', 'in_flight')) as pending,
                            count(*) filter (where x.status = 'rejected') as rejected
                       from hubsync.outbox x
                      where x.op in ('associate', 'unassociate') and x.changes ->> 'table' = a.table_name) ob on true;

comment on view hubsync.status is
  'Per object type, then per association table (object_type = the table''s name): enabled, write_back, phase, '
  'rows (exact below 100,000, else the planner estimate), last successful incremental pull (for an association '
  'table: last sweep), lag since then, pending and rejected outbox changes, last error, and how HubSpot''s '
  'changes arrive: ''webhooks'' (within a second while `hubsync webhooks` receives them, the minute pull as a '
  'safety net) or ''pull'' (HubSpot sends no webhooks for the type: the minute pull only); then the account''s daily '
  'quota, the same on every row: calls used today (by every app of the account), the daily limit, the reserve hubsync '
  'leaves to the other apps (HUBSYNC_DAILY_RESERVE) and daily_quota_projection (e.g. "at this pace the quota (less '
  'the reserve) lasts until 17:40 America/New_York"); history_properties: the properties whose history is kept '
  '(hubsync.track_history; "(reading)" while the first read of their history is under way) and history_calls, the '
  'HubSpot calls made to read it; backfill_since: the backfill horizon (only records modified since then were '
  'backfilled; null = every record)';
grant select on hubsync.status to hubsync_admin, hubspot_reader;
