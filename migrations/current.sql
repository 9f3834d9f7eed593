-- Development migration (graphile-migrate's current.sql). `hubsync install` applies it after the
-- committed migrations, so everything here must be idempotent (create table if not exists,
-- add column if not exists, ...). Each area keeps its own section headed `-- == <AREA> ==`;
-- the lead commits this file into migrations/committed/ at the end.

-- == lead ==
-- The quota alert's day is the account's, which the rate budget keeps (daily_time_zone): the
-- setting that asked a DBA to type it again is gone.
delete from hubsync.settings where name = 'alerts.quota_time_zone';

-- == h-lists ==
-- Lists (HubSpot's segments): hubsync.objects gets the kind 'lists' (hubsync.enable_sync('lists')),
-- and the outbox the two membership changes a local INSERT or DELETE on hubspot.list_memberships
-- queues ('list_add', 'list_remove'). Each check constraint is rebuilt from the values it has now
-- plus these, so values other areas add to the same constraints are kept whichever runs first.
do $$
declare
  c record;
  have text[];
  want text[];
begin
  for c in select * from (values ('hubsync.objects'::regclass, 'objects_kind_check', 'kind', array['lists']),
                                 ('hubsync.outbox'::regclass, 'outbox_op_check', 'op', array['list_add', 'list_remove'])) v(rel, name, col, extra) loop
    select array(select m[1] from regexp_matches(pg_get_constraintdef(k.oid), '''([^'']+)''', 'g') m) into have
      from pg_catalog.pg_constraint k where k.conrelid = c.rel and k.conname = c.name;
    continue when have is null or have @> c.extra;
    want := have || array(select x from unnest(c.extra) x where x <> all (have));
    execute format('alter table %s drop constraint %I', c.rel, c.name);
    execute format('alter table %s add constraint %I check (%I in (%s))', c.rel, c.name, c.col,
                   (select string_agg(quote_literal(x), ', ') from unnest(want) x));
  end loop;
end
$$;
