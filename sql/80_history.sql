-- History: the change log (hubsync.changes, with NOTIFY hubsync_changes after each transaction
-- that wrote to it) and the property history hubsync.track_history keeps.
--
-- The change log costs no API call: every hubspot.<table> of an object type carries three statement
-- triggers (hubsync_changes_insert/_update/_delete) that compare, for the sync's own writes only
-- (hubsync.applying = 'on'), each row's properties jsonb before and after the statement, and log
-- the properties that differ in the same transaction. One trigger call per statement, not per row,
-- and the rows come from the statement's transition tables: a pull writing 100 records pays one
-- INSERT ... SELECT. Local edits are not logged as they are made (they are not in HubSpot yet):
-- the push writes HubSpot's answer back into the row with echo suppression on, and that write is
-- logged as source 'push' with HubSpot's updatedAt.
--
-- Where a change came from: the push says so itself (hubsync.pushing); the others set
-- hubsync.change_source with hubsync.applying (src/core/db/transaction.ts): 'pull' unless the
-- webhook apply or the reconciliation is running.

-- The object type a hubspot.* table belongs to.
create or replace function hubsync._object_type_of(table_name text) returns text
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select o.object_type from hubsync.objects o where o.table_name = _object_type_of.table_name
$$;
revoke all on function hubsync._object_type_of(text) from public;

-- Keeps what the transaction logged so far in transaction-local settings (first and last change
-- id, count, types, the first 100 record ids), for the one NOTIFY at commit.
create or replace function hubsync._changes_noted(v_type text, lo bigint, hi bigint, n bigint, ids text[]) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  total bigint := coalesce(nullif(current_setting('hubsync.changes_count', true), '')::bigint, 0) + n;
  known text := coalesce(current_setting('hubsync.changes_ids', true), '');
begin
  if n = 0 then return; end if;
  if coalesce(current_setting('hubsync.changes_first', true), '') = '' then
    perform set_config('hubsync.changes_first', lo::text, true);
  end if;
  perform set_config('hubsync.changes_last', greatest(hi, coalesce(nullif(current_setting('hubsync.changes_last', true), '')::bigint, 0))::text, true);
  perform set_config('hubsync.changes_count', total::text, true);
  if position(',' || v_type || ',' in coalesce(current_setting('hubsync.changes_types', true), '')) = 0 then
    perform set_config('hubsync.changes_types', coalesce(current_setting('hubsync.changes_types', true), '') || ',' || v_type || ',', true);
  end if;
  -- record ids go in the payload while there are few (a NOTIFY payload must stay under 8000 bytes)
  perform set_config('hubsync.changes_ids',
                     case when total > 100 then '' when known = '' then array_to_string(ids, ',') else known || ',' || array_to_string(ids, ',') end, true);
end
$$;
revoke all on function hubsync._changes_noted(text, bigint, bigint, bigint, text[]) from public;

-- The properties that differ between two properties jsonb values (a missing key and a JSON null
-- are both "no value"): {old: {...}, new: {...}}.
create or replace function hubsync._property_diff(old_props jsonb, new_props jsonb, out old_values jsonb, out new_values jsonb)
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
  select coalesce(jsonb_object_agg(d.k, d.ov), '{}'), coalesce(jsonb_object_agg(d.k, d.nv), '{}')
    from (select coalesce(a.key, b.key) as k, coalesce(b.value, 'null') as ov, coalesce(a.value, 'null') as nv
            from jsonb_each(coalesce(new_props, '{}')) a
            full join jsonb_each(coalesce(old_props, '{}')) b on b.key = a.key
           where coalesce(a.value, 'null') is distinct from coalesce(b.value, 'null')) d
$$;

-- The statement trigger on hubspot.<table> (see the header). Transition tables: changes_new
-- (INSERT, UPDATE) and changes_old (UPDATE, DELETE).
create or replace function hubsync._tg_record_changes() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_type text;
  src text;
  lo bigint;
  hi bigint;
  cnt bigint;
  ids text[];
begin
  if current_setting('hubsync.applying', true) is distinct from 'on' then return null; end if;
  v_type := hubsync._object_type_of(tg_table_name);
  if v_type is null then return null; end if;
  src := case when current_setting('hubsync.pushing', true) = 'on' then 'push'
              else coalesce(nullif(current_setting('hubsync.change_source', true), ''), 'pull') end;
  if tg_op = 'INSERT' then
    with logged as (
      insert into hubsync.changes (object_type, record_id, op, source, new_values, hubspot_updated_at)
      select v_type, n.id,
             -- the record was deleted here before (archived in HubSpot) and is back: restored
             case when exists (select from hubsync.changes c where c.object_type = v_type and c.record_id = n.id and c.op = 'delete')
                  then 'restore' else 'insert' end,
             src, jsonb_strip_nulls(n.properties), n.updated_at
        from changes_new n
       where n.id is not null
      returning id, record_id)
    select min(id), max(id), count(*), (array_agg(record_id))[1:100] into lo, hi, cnt, ids from logged;
  elsif tg_op = 'UPDATE' and src = 'push' then
    -- The push's answer: rows are matched by their local id (a created record gets its HubSpot id here).
    with pairs as (
      select n.id, n.updated_at, n.properties as np, o.properties as op_, o.id as old_id
        from changes_new n
        join changes_old o on (to_jsonb(o) ->> '_sync_local_id') = (to_jsonb(n) ->> '_sync_local_id')),
    logged as (
      insert into hubsync.changes (object_type, record_id, op, source, old_values, new_values, hubspot_updated_at)
      select v_type, p.id, case when p.old_id is null then 'insert' else 'update' end, src,
             case when p.old_id is null then '{}' else d.old_values end,
             case when p.old_id is null then jsonb_strip_nulls(p.np) else d.new_values end, p.updated_at
        from pairs p cross join lateral hubsync._property_diff(p.op_, p.np) d
       where p.id is not null and (p.old_id is null or d.new_values <> '{}')
      returning id, record_id)
    select min(id), max(id), count(*), (array_agg(record_id))[1:100] into lo, hi, cnt, ids from logged;
  elsif tg_op = 'UPDATE' then
    with logged as (
      insert into hubsync.changes (object_type, record_id, op, source, old_values, new_values, hubspot_updated_at)
      select v_type, n.id, x.op, src, d.old_values, d.new_values, n.updated_at
        from changes_new n
        left join changes_old o on o.id = n.id
        cross join lateral (select case
                                     -- only a merge gives a row another id (hubsync._apply_merges)
                                     when o.id is null then 'merge'
                                     when o.archived_at is not null and n.archived_at is null then 'restore'
                                     when o.archived_at is null and n.archived_at is not null then 'delete'
                                     else 'update' end as op) x
        cross join lateral hubsync._property_diff(o.properties, n.properties) d
       where n.id is not null and (x.op <> 'update' or d.new_values <> '{}')
      returning id, record_id)
    select min(id), max(id), count(*), (array_agg(record_id))[1:100] into lo, hi, cnt, ids from logged;
  else
    with logged as (
      insert into hubsync.changes (object_type, record_id, op, source, old_values, hubspot_updated_at)
      select v_type, o.id,
             case when exists (select from hubsync.merges m where m.object_type = v_type and m.merged_id = o.id) then 'merge' else 'delete' end,
             src, jsonb_strip_nulls(o.properties), o.updated_at
        from changes_old o
       where o.id is not null
      returning id, record_id)
    select min(id), max(id), count(*), (array_agg(record_id))[1:100] into lo, hi, cnt, ids from logged;
  end if;
  perform hubsync._changes_noted(v_type, lo, hi, coalesce(cnt, 0), ids);
  return null;
end
$$;
revoke all on function hubsync._tg_record_changes() from public;

-- At commit of a transaction that logged changes (a deferred constraint trigger whose WHEN lets only
-- the transaction's first change row through): one NOTIFY hubsync_changes with
-- {"type": <the type, when one>, "types": [...], "count": n, "first_id": .., "last_id": .., "ids": [...]}.
-- ids are the record ids, while the transaction changed at most 100; the change rows are those of
-- hubsync.changes with id between first_id and last_id and the types named (other transactions'
-- rows may sit in between: select them by record or by applied_at when that matters).
create or replace function hubsync._tg_changes_notify() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  types text[] := array_remove(string_to_array(coalesce(current_setting('hubsync.changes_types', true), ''), ','), '');
  ids text := coalesce(current_setting('hubsync.changes_ids', true), '');
  payload jsonb;
begin
  if cardinality(types) = 0 then return null; end if;
  payload := jsonb_build_object('type', case when cardinality(types) = 1 then types[1] end, 'types', to_jsonb(types),
                                'count', nullif(current_setting('hubsync.changes_count', true), '')::bigint,
                                'first_id', nullif(current_setting('hubsync.changes_first', true), '')::bigint,
                                'last_id', nullif(current_setting('hubsync.changes_last', true), '')::bigint)
             || case when ids <> '' then jsonb_build_object('ids', to_jsonb(string_to_array(ids, ','))) else '{}' end;
  perform pg_notify('hubsync_changes', payload::text);
  return null;
end
$$;
revoke all on function hubsync._tg_changes_notify() from public;
drop trigger if exists hubsync_changes_notify on hubsync.changes;
create constraint trigger hubsync_changes_notify after insert on hubsync.changes
  deferrable initially deferred for each row
  when (case when current_setting('hubsync.changes_notify', true) is distinct from 'queued'
             then set_config('hubsync.changes_notify', 'queued', true) = 'queued' else false end)
  execute function hubsync._tg_changes_notify();

-- Puts the change-log triggers on a hubspot.* table (discovery calls it when it creates one; this
-- file, for the tables there already). DDL only when one is missing: a CREATE TRIGGER waits for
-- every writer of the table.
create or replace function hubsync._ensure_change_triggers(table_name text) returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  rel regclass := to_regclass(format('hubspot.%I', _ensure_change_triggers.table_name));
begin
  if rel is null then return; end if;
  if not exists (select from pg_catalog.pg_trigger where tgrelid = rel and tgname = 'hubsync_changes_insert') then
    execute format('create trigger hubsync_changes_insert after insert on %s referencing new table as changes_new '
                   'for each statement execute function hubsync._tg_record_changes()', rel);
  end if;
  if not exists (select from pg_catalog.pg_trigger where tgrelid = rel and tgname = 'hubsync_changes_update') then
    execute format('create trigger hubsync_changes_update after update on %s referencing old table as changes_old new table as changes_new '
                   'for each statement execute function hubsync._tg_record_changes()', rel);
  end if;
  if not exists (select from pg_catalog.pg_trigger where tgrelid = rel and tgname = 'hubsync_changes_delete') then
    execute format('create trigger hubsync_changes_delete after delete on %s referencing old table as changes_old '
                   'for each statement execute function hubsync._tg_record_changes()', rel);
  end if;
end
$$;
revoke all on function hubsync._ensure_change_triggers(text) from public;

do $$
declare
  t text;
begin
  for t in select o.table_name from hubsync.objects o where o.kind = 'crm' and o.table_name is not null loop
    perform hubsync._ensure_change_triggers(t);
  end loop;
end
$$;

-- How long a type's changes are kept.
create or replace function hubsync.keep_changes(object_type text, keep interval) returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects := hubsync._require_object(keep_changes.object_type);
begin
  if keep is null or keep <= interval '0' then
    raise exception using errcode = '22023',
      message = format('hubsync: keep_changes needs a positive interval, not %s', coalesce(keep::text, 'null')),
      hint = format('For example: select hubsync.keep_changes(%L, interval ''30 days'');', o.object_type);
  end if;
  update hubsync.objects ob set keep_changes = keep, updated_at = now() where ob.object_type = o.object_type;
  return format('%s: changes kept for %s (was %s)', o.object_type, keep, o.keep_changes);
end
$$;
revoke all on function hubsync.keep_changes(text, interval) from public;
grant execute on function hubsync.keep_changes(text, interval) to hubsync_admin;
comment on function hubsync.keep_changes(text, interval) is
  'Sets how long hubsync.changes keeps an object type''s changes (default 30 days); the hourly prune deletes older ones';
