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
    -- Only write-back tables are pushed, and they all have _sync_local_id; plpgsql plans this statement
    -- per table when a push first reaches it, so other tables never meet the column. Matched as the
    -- column itself, the pairs are a hash join: matched through to_jsonb of both rows, they were a
    -- nested loop converting whole rows (properties included) for every pair, about 9 s for one push
    -- round of 1,000 records.
    with pairs as (
      select n.id, n.updated_at, n.properties as np, o.properties as op_, o.id as old_id
        from changes_new n
        join changes_old o on o._sync_local_id = n._sync_local_id),
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
  elsif src = 'push' then
    -- the push deletes only a copy the pull made of a record it was creating (hubsync._push_write_back):
    -- the record lives on in the local row, which takes its id in the same transaction
    return null;
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
  -- A type with tracked properties: the records changed here are read again for their history
  -- (values that changed and changed back between two reads are only there). The change rows of this
  -- statement lie between lo and hi; another transaction's rows in between only cost a re-read.
  if cnt > 0 and exists (select from hubsync.history_properties hp where hp.object_type = v_type) then
    insert into hubsync.history_queue as q (object_type, record_id)
    select distinct v_type, c.record_id from hubsync.changes c
     where c.id between lo and hi and c.object_type = v_type and c.op <> 'delete'
    on conflict (object_type, record_id) do update set queued_at = now();
    if position(',' || v_type || ',' in coalesce(current_setting('hubsync.history_types', true), '')) = 0 then
      perform set_config('hubsync.history_types', coalesce(current_setting('hubsync.history_types', true), '') || ',' || v_type || ',', true);
    end if;
  end if;
  return null;
end
$$;
revoke all on function hubsync._tg_record_changes() from public;

-- At commit of a transaction that logged changes (a deferred constraint trigger whose WHEN lets only
-- the transaction's first change row through): the history task of the types whose records it
-- queued for a history re-read, and one NOTIFY hubsync_changes with
-- {"type": <the type, when one>, "types": [...], "count": n, "first_id": .., "last_id": .., "ids": [...]}.
-- ids are the record ids, while the transaction changed at most 100; the change rows are those of
-- hubsync.changes with id between first_id and last_id and the types named (other transactions'
-- rows may sit in between: select them by record or by applied_at when that matters).
create or replace function hubsync._tg_changes_notify() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  types text[] := array_remove(string_to_array(coalesce(current_setting('hubsync.changes_types', true), ''), ','), '');
  ids text := coalesce(current_setting('hubsync.changes_ids', true), '');
  payload jsonb;
  t text;
begin
  -- records queued for a history re-read: the history task of their type runs after this commit
  foreach t in array array_remove(string_to_array(coalesce(current_setting('hubsync.history_types', true), ''), ','), '') loop
    perform hubsync._enqueue('hubsync_history', t);
  end loop;
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

-- ---------------------------------------------------------------------------------------------
-- Property history. hubsync.track_history(type, properties) keeps every version of those
-- properties in hubspot.<table>_history: the hubsync_history task first reads each record's whole
-- history (list pages with propertiesWithHistory), then re-reads, 100 per batch call, every record
-- the sync changes afterwards (hubsync.history_queue), so a value that changed and changed back
-- between two pulls is kept too.

-- hubspot.<table>_history's name (within PostgreSQL's 63 bytes).
create or replace function hubsync._history_table(table_name text) returns text
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
  select case when octet_length(table_name) <= 55 then table_name || '_history'
              else left(table_name, 40) || '_' || left(md5(table_name), 6) || '_history' end
$$;

-- The object type's row, for the history functions: enabled, a CRM type, its table made.
create or replace function hubsync._history_object(object_type text) returns hubsync.objects
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects := hubsync._require_object(_history_object.object_type);
begin
  if o.kind <> 'crm' then
    raise exception using errcode = '22023',
      message = format('hubsync: %s have no property history in HubSpot', o.object_type),
      hint = 'Property history is kept for CRM object types (contacts, deals, tickets, custom objects, ...).';
  end if;
  if o.table_name is null or to_regclass(format('hubspot.%I', o.table_name)) is null then
    raise exception using errcode = '22023',
      message = format('hubsync: %s has not been discovered yet', o.object_type),
      hint = 'Wait until hubsync.status shows it past ''discovering'' (the worker must be running), then call this again.';
  end if;
  return o;
end
$$;
revoke all on function hubsync._history_object(text) from public;

-- (Re)writes hubspot.<table>_as_of(at) for the type's tracked properties: one row per record that
-- had a tracked value at `at`, one text column per tracked property with its value then. Dropped
-- when nothing is tracked. It is one SELECT (names qualified, no SET clause, not SECURITY DEFINER) so
-- that PostgreSQL inlines it into the caller's query: `where id = ...` then reads that record's
-- versions through the primary key instead of every record's. A whole type is one scan of its
-- versions and one hash aggregate.
create or replace function hubsync._write_as_of(object_type text) returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects := hubsync._history_object(_write_as_of.object_type);
  hist text := hubsync._history_table(o.table_name);
  fn text := left(o.table_name, 57) || '_as_of';
  props text[];
  cols text;
  picks text;
begin
  select array_agg(hp.property_name order by hp.property_name) into props
    from hubsync.history_properties hp where hp.object_type = o.object_type;
  execute format('drop function if exists hubspot.%I(timestamptz)', fn);
  if props is null then return; end if;
  select string_agg(format('%I text', p), ', '), string_agg(format('max(h.value) filter (where h.property = %L)', p), ', ')
    into cols, picks from unnest(props) p;
  execute format($f$
    create function hubspot.%1$I(at timestamptz) returns table (id text, %2$s)
    language sql stable
    as $b$
      select h.record_id, %3$s
        from hubspot.%4$I h
       where h.property = any (%5$L::text[]) and h.valid_from <= at and (h.valid_to is null or h.valid_to > at)
       group by h.record_id
    $b$
    $f$, fn, cols, picks, hist, props);
  execute format('revoke all on function hubspot.%I(timestamptz) from public', fn);
  execute format('grant execute on function hubspot.%I(timestamptz) to hubspot_reader, hubsync_admin', fn);
  execute format('comment on function hubspot.%I(timestamptz) is %L', fn,
                 format('%s as they were at a moment, for the properties whose history is tracked (%s): '
                        'select * from hubspot.%s(''2026-06-30''). Generated by hubsync.track_history', o.object_type, array_to_string(props, ', '), fn));
end
$$;
revoke all on function hubsync._write_as_of(text) from public;

create or replace function hubsync.track_history(object_type text, properties text[]) returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects := hubsync._history_object(track_history.object_type);
  hist text := hubsync._history_table(o.table_name);
  added text[];
begin
  if track_history.properties is null or cardinality(track_history.properties) = 0
     or exists (select from unnest(track_history.properties) p where p is null or btrim(p) = '') then
    raise exception using errcode = '22023',
      message = format('hubsync: track_history needs property names for %s', o.object_type),
      hint = format('For example: select hubsync.track_history(%L, array[''dealstage'', ''amount'']);', o.object_type);
  end if;
  execute format($t$
    create table if not exists hubspot.%1$I (
      record_id text not null,
      property text not null,
      value text,
      valid_from timestamptz not null,
      valid_to timestamptz,
      source_type text,
      source_id text,
      updated_by_user_id bigint,
      primary key (record_id, property, valid_from)
    )$t$, hist);
  -- "as of": the versions of a property around a moment
  execute format('create index if not exists %I on hubspot.%I (property, valid_from) include (valid_to, record_id)', left(hist, 50) || '_as_of_idx', hist);
  execute format('comment on table hubspot.%I is %L', hist,
                 format('Every version of the tracked properties of hubspot.%s (hubsync.track_history): valid_from is when HubSpot '
                        'recorded the value, valid_to when the next one replaced it (null while current)', o.table_name));
  execute format('grant select on hubspot.%I to hubspot_reader', hist);
  -- kept by the sync alone: local writes would be neither sent nor kept
  execute format('revoke insert, update, delete, truncate on hubspot.%I from hubspot_writer', hist);

  with ins as (
    insert into hubsync.history_properties (object_type, property_name)
    select o.object_type, p from unnest(track_history.properties) p
    on conflict do nothing
    returning property_name)
  select array_agg(property_name order by property_name) into added from ins;
  perform hubsync._write_as_of(o.object_type);
  if added is not null then
    perform hubsync._enqueue('hubsync_history', o.object_type);
  end if;
  return format('%s: history of %s kept in hubspot.%s%s', o.object_type,
                (select string_agg(hp.property_name, ', ' order by hp.property_name) from hubsync.history_properties hp where hp.object_type = o.object_type),
                hist, case when added is null then ' (already tracked)' else format('; reading the history of %s', array_to_string(added, ', ')) end);
end
$$;
revoke all on function hubsync.track_history(text, text[]) from public;
grant execute on function hubsync.track_history(text, text[]) to hubsync_admin;
comment on function hubsync.track_history(text, text[]) is
  'Keeps every version of these properties of an object type in hubspot.<table>_history: reads each record''s whole '
  'history from HubSpot once, then each record the sync changes again (one call per 100 records). Also writes '
  'hubspot.<table>_as_of(at) and, for dealstage / hs_pipeline_stage, hubspot.deal_stage_history / ticket_stage_history';

create or replace function hubsync.untrack_history(object_type text, properties text[]) returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects := hubsync._history_object(untrack_history.object_type);
  removed text[];
begin
  with del as (
    delete from hubsync.history_properties hp
     where hp.object_type = o.object_type and hp.property_name = any (untrack_history.properties)
    returning hp.property_name)
  select array_agg(property_name order by property_name) into removed from del;
  if removed is null then
    raise exception using errcode = '22023',
      message = format('hubsync: none of %s is tracked for %s', coalesce(array_to_string(untrack_history.properties, ', '), 'null'), o.object_type),
      hint = format('Tracked now: %s.', coalesce((select string_agg(hp.property_name, ', ' order by hp.property_name)
                                                   from hubsync.history_properties hp where hp.object_type = o.object_type), 'nothing'));
  end if;
  if not exists (select from hubsync.history_properties hp where hp.object_type = o.object_type) then
    delete from hubsync.history_queue q where q.object_type = o.object_type;
    delete from hubsync.cursors c where c.object_type = o.object_type and c.stream = 'history';
  end if;
  perform hubsync._write_as_of(o.object_type);
  return format('%s: history of %s no longer kept; the versions already in hubspot.%s stay', o.object_type,
                array_to_string(removed, ', '), hubsync._history_table(o.table_name));
end
$$;
revoke all on function hubsync.untrack_history(text, text[]) from public;
grant execute on function hubsync.untrack_history(text, text[]) to hubsync_admin;
comment on function hubsync.untrack_history(text, text[]) is
  'Stops keeping the history of these properties (the versions kept so far stay in hubspot.<table>_history)';

-- Writes the versions HubSpot listed (propertiesWithHistory) into hubspot.<table>_history.
-- versions: [{record_id, property, value, valid_from, source_type, source_id, updated_by_user_id, ord}],
-- ord: the order HubSpot listed them in. A version already kept is updated in place; none
-- is deleted (HubSpot may list fewer than it once did). valid_to is then each version's successor's
-- valid_from, for every (record, property) touched. Returns the versions added or changed.
create or replace function hubsync._write_history(object_type text, versions jsonb) returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects := hubsync._history_object(_write_history.object_type);
  hist text := hubsync._history_table(o.table_name);
  n integer;
begin
  execute format($q$
    with v as (
      -- two versions with one timestamp: the one HubSpot listed first (the newer)
      select distinct on (x.record_id, x.property, x.valid_from) x.*
        from jsonb_to_recordset($1) as x(record_id text, property text, value text, valid_from timestamptz,
                                         source_type text, source_id text, updated_by_user_id bigint, ord bigint)
       order by x.record_id, x.property, x.valid_from, x.ord),
    up as (
      insert into hubspot.%1$I as h (record_id, property, value, valid_from, source_type, source_id, updated_by_user_id)
      select v.record_id, v.property, nullif(v.value, ''), v.valid_from, v.source_type, v.source_id, v.updated_by_user_id from v
      on conflict (record_id, property, valid_from) do update
        set value = excluded.value, source_type = excluded.source_type, source_id = excluded.source_id, updated_by_user_id = excluded.updated_by_user_id
        where (h.value, h.source_type, h.source_id, h.updated_by_user_id)
              is distinct from (excluded.value, excluded.source_type, excluded.source_id, excluded.updated_by_user_id)
      returning 1)
    select count(*) from up$q$, hist) into n using versions;
  execute format($q$
    update hubspot.%1$I h set valid_to = s.next_from
      from (select h2.record_id, h2.property, h2.valid_from,
                   lead(h2.valid_from) over (partition by h2.record_id, h2.property order by h2.valid_from) as next_from
              from hubspot.%1$I h2
             where (h2.record_id, h2.property) in (select distinct x.record_id, x.property
                                                     from jsonb_to_recordset($1) as x(record_id text, property text))) s
     where h.record_id = s.record_id and h.property = s.property and h.valid_from = s.valid_from
       and h.valid_to is distinct from s.next_from$q$, hist) using versions;
  return n;
end
$$;
revoke all on function hubsync._write_history(text, jsonb) from public;

-- hubspot.deal_stage_history / hubspot.ticket_stage_history: the stage versions of the type's history
-- as time spent in each stage, once dealstage / hs_pipeline_stage is tracked. The pipeline is the
-- one the stage belongs to (stage ids are the portal's own, so they name their pipeline), else the
-- record's pipeline now; labels come from hubspot.pipelines and hubspot.pipeline_stages (kept when
-- 'pipelines' is synced; made empty by the history task otherwise, so the view can exist).
-- time_in_stage of the current stage runs until now.
create or replace function hubsync._ensure_stage_history(object_type text) returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects := hubsync._history_object(_ensure_stage_history.object_type);
  view_name text;
  id_column text;
  stage_property text;
  pipeline_property text;
begin
  case o.object_type
    when 'deals' then view_name := 'deal_stage_history'; id_column := 'deal_id'; stage_property := 'dealstage'; pipeline_property := 'pipeline';
    when 'tickets' then view_name := 'ticket_stage_history'; id_column := 'ticket_id'; stage_property := 'hs_pipeline_stage'; pipeline_property := 'hs_pipeline';
    else return;
  end case;
  if not exists (select from hubsync.history_properties hp where hp.object_type = o.object_type and hp.property_name = stage_property)
     or to_regclass('hubspot.pipeline_stages') is null or to_regclass('hubspot.pipelines') is null
     or to_regclass(format('hubspot.%I', view_name)) is not null then
    return;
  end if;
  execute format($v$
    create view hubspot.%1$I as
    select h.record_id as %2$I,
           coalesce(s.pipeline_id, r.properties ->> %6$L) as pipeline_id,
           p.label as pipeline_label,
           h.value as stage_id,
           s.label as stage_label,
           s.display_order as stage_order,
           h.valid_from as entered_at,
           h.valid_to as exited_at,
           coalesce(h.valid_to, now()) - h.valid_from as time_in_stage,
           h.source_type,
           h.updated_by_user_id
      from hubspot.%3$I h
      left join hubspot.%4$I r on r.id = h.record_id
      left join lateral (select ps.pipeline_id, ps.label, ps.display_order from hubspot.pipeline_stages ps
                          where ps.object_type = %7$L and ps.id = h.value
                          order by ps.pipeline_id = r.properties ->> %6$L desc nulls last, ps.archived
                          limit 1) s on true
      left join hubspot.pipelines p on p.object_type = %7$L and p.id = coalesce(s.pipeline_id, r.properties ->> %6$L)
     where h.property = %5$L and h.value is not null$v$,
    view_name, id_column, hubsync._history_table(o.table_name), o.table_name, stage_property, pipeline_property, o.object_type);
  execute format('grant select on hubspot.%I to hubspot_reader', view_name);
  execute format('comment on view hubspot.%I is %L', view_name,
                 format('Each stage a %s was in, from the history of %s (hubsync.track_history): pipeline, stage id, label and order, '
                        'entered_at, exited_at (null while current), time_in_stage (until now while current)', o.singular_name, stage_property));
end
$$;
revoke all on function hubsync._ensure_stage_history(text) from public;
