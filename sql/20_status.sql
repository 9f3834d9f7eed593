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
       case when o.object_type = any (hubsync.webhook_object_types()) then 'webhooks' else 'pull' end as changes
  from hubsync.objects o
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
            then 'webhooks' else 'pull' end
  from hubsync.association_status a
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
  'safety net) or ''pull'' (HubSpot sends no webhooks for the type: the minute pull only)';
grant select on hubsync.status to hubsync_admin, hubspot_reader;
