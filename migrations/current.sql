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

-- The pull of lists asks, for each member it reads, whether a local change of that membership is
-- waiting or was sent while it read (src/core/lists/pull.ts): one index lookup each.
create index if not exists outbox_list_membership_idx on hubsync.outbox ((changes ->> 'listId'), record_id) where object_type = 'lists';

-- Lists kept equal to a query (hubsync.publish_list, sql/80_lists.sql): one row per publication.
create table if not exists hubsync.list_publications (
  name text primary key,
  source text not null,
  list_name text not null,
  object_type text not null,
  key_column text not null,
  list_id text,
  last_run_at timestamptz,
  last_added integer,
  last_removed integer,
  last_unmatched integer,
  last_error text,
  last_error_at timestamptz,
  created_at timestamptz not null default now()
);
comment on table hubsync.list_publications is
  'HubSpot MANUAL lists kept equal to a table''s or view''s rows (hubsync.publish_list): the source, the list and its id '
  'once known, which column names the records, and the last run''s additions, removals, unmatched rows and error';
