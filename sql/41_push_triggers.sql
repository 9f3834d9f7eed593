-- Write-back triggers. hubsync._apply_write_back(object_type) installs them on
-- hubspot.<table> and on the association tables that have the type at one end (or removes them when
-- write-back is off); hubsync._refresh_write_back (sql/10_api.sql) calls it when the flag changes and after
-- discovery created or altered the table.
--
--   hubsync_outbox (AFTER, each row, local writes only): records the change in hubsync.outbox in the
--     same transaction (a rolled-back transaction sends nothing) with only the changed properties,
--     HubSpot-encoded, and wakes the push task.
--   hubsync_conflicts (BEFORE UPDATE, each row, pulled writes only): a pulled value that meets a
--     pending local change to the same property is settled by hubsync.objects.conflict_policy and
--     logged in hubsync.conflicts, so the pull code needs to know nothing about write-back.
--
-- Every trigger function is SECURITY DEFINER with a fixed search_path: a hubspot_writer that owns
-- nothing and has no rights on hubsync.* or hubsync_worker can still write (graphile-worker's add_job,
-- which the push wake-up calls, needs the rights of hubsync_worker's owner).
-- Echo suppression: the worker sets hubsync.applying = 'on' for its own writes (pulls and the push's
-- write-back); the push's write-back also sets hubsync.pushing = 'on' so it is not taken for a pull.

create or replace function hubsync._tg_outbox() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_type text := tg_argv[0];
  n jsonb;
  o jsonb;
  changes jsonb := '{}';
  prev jsonb := '{}';
  c record;
  k text;
  typed text[] := '{}';
  op text;
  lid uuid;
  rid text;
begin
  if tg_op <> 'DELETE' then n := to_jsonb(new); end if;
  if tg_op <> 'INSERT' then o := to_jsonb(old); end if;

  if tg_op = 'DELETE' then
    op := 'archive';
    lid := (o ->> '_sync_local_id')::uuid;
    rid := o ->> 'id';
    -- A row that never reached HubSpot and has nothing queued has nothing to archive.
    if rid is null and not exists (select from hubsync.outbox ob where ob.local_id = lid) then return null; end if;
  else
    lid := (n ->> '_sync_local_id')::uuid;
    rid := n ->> 'id';
    for c in select col.property_name, col.column_name, col.pg_type, col.read_only from hubsync.columns col
              where col.object_type = v_type and col.archived_at is null loop
      typed := typed || c.property_name;
      continue when c.read_only or c.property_name = 'hubsync_local_id' or c.property_name = 'hs_object_id';
      -- Scalars other than datetimes are already HubSpot's strings as json text (fast path).
      if tg_op = 'INSERT' then
        if coalesce(jsonb_typeof(n -> c.column_name), 'null') <> 'null' then
          changes := changes || jsonb_build_object(c.property_name,
            case when c.pg_type in ('text', 'numeric', 'boolean', 'date') then n ->> c.column_name
                 else hubsync._encode_value(n -> c.column_name, c.pg_type) end);
        end if;
      elsif (n -> c.column_name) is distinct from (o -> c.column_name) then
        if c.pg_type in ('text', 'numeric', 'boolean', 'date') then
          changes := changes || jsonb_build_object(c.property_name, coalesce(n ->> c.column_name, ''));
          prev := prev || jsonb_build_object(c.property_name, coalesce(o ->> c.column_name, ''));
        else
          changes := changes || jsonb_build_object(c.property_name, hubsync._encode_value(n -> c.column_name, c.pg_type));
          prev := prev || jsonb_build_object(c.property_name, hubsync._encode_value(o -> c.column_name, c.pg_type));
        end if;
      end if;
    end loop;
    -- Properties kept only in the properties jsonb column (no typed column) can be written there.
    if jsonb_typeof(n -> 'properties') = 'object' and (o is null or (n -> 'properties') is distinct from (o -> 'properties')) then
      for k in select key from jsonb_each(n -> 'properties')
                where key <> all (typed) and key not in ('hs_object_id', 'hubsync_local_id', 'createdate', 'lastmodifieddate',
                                                         'hs_lastmodifieddate', 'hs_createdate')
                  and (tg_op = 'INSERT' or (n -> 'properties' -> key) is distinct from (o -> 'properties' -> key)) loop
        changes := changes || jsonb_build_object(k, hubsync._encode_value(n -> 'properties' -> k, 'text'));
        if tg_op = 'UPDATE' then
          prev := prev || jsonb_build_object(k, hubsync._encode_value(o -> 'properties' -> k, 'text'));
        end if;
      end loop;
    end if;

    if tg_op = 'INSERT' then
      op := case when rid is null then 'create' else 'update' end;
    elsif (o ->> 'archived_at') is null and (n ->> 'archived_at') is not null then
      op := 'archive';   -- on_archive = 'mark' tables: setting archived_at archives the record
    elsif changes = '{}' then
      return null;
    else
      op := 'update';
    end if;
  end if;

  insert into hubsync.outbox (object_type, record_id, local_id, op, changes, previous)
  values (v_type, rid, lid, op, case when op = 'archive' then '{}' else changes end, prev);
  -- A record HubSpot rejected goes again with its next change (the change may be the fix) — unless
  -- the table reverts rejected changes: those were undone locally and stay rejected.
  if exists (select from hubsync.outbox ob where ob.local_id = lid and ob.status = 'rejected')
     and (select o2.on_reject from hubsync.objects o2 where o2.object_type = v_type) = 'keep_local' then
    update hubsync.outbox ob set status = 'pending', next_attempt_at = now()
     where ob.local_id = lid and ob.status = 'rejected';
  end if;
  return null;
end
$$;
revoke all on function hubsync._tg_outbox() from public;

-- Pulled change meets pending local change: see the header. Per property, with base = the value
-- before the local change (outbox.previous), local = the pending value, hubspot = the pulled value:
--   hubspot = local          -> both agree, nothing to settle
--   hubspot = base           -> HubSpot has not got the local change yet: keep the local value
--   otherwise (a conflict)   -> hubspot_wins: HubSpot's value stays, the local change is dropped
--                               postgres_wins: the local value stays and is (still) sent
--                               latest_wins: the later of HubSpot's updatedAt and the local change
--                               merge: multi-selects merged item by item (three-way), other
--                                      properties as latest_wins
create or replace function hubsync._tg_pull_conflict() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_type text := tg_argv[0];
  policy text;
  n jsonb := to_jsonb(new);
  o jsonb := to_jsonb(old);
  ids bigint[] := '{}';
  local_vals jsonb := '{}';
  bases jsonb := '{}';
  times jsonb := '{}';
  r record;
  e record;
  col_name text;
  col_type text;
  p text;
  lv text;
  hv text;
  bv text;
  winner text;
  resolved text;
  hub_at timestamptz := coalesce((n ->> 'updated_at')::timestamptz, now());
  local_at timestamptz;
  overrides jsonb := '{}';
  props jsonb := coalesce(n -> 'properties', '{}');
  merged text[];
begin
  for r in select ob.id, ob.changes, ob.previous, ob.created_at from hubsync.outbox ob
            where ob.local_id = (o ->> '_sync_local_id')::uuid and ob.status = 'pending' and ob.op = 'update'
            order by ob.id for update skip locked loop
    ids := ids || r.id;
    for e in select key, value from jsonb_each(r.changes) loop
      local_vals := local_vals || jsonb_build_object(e.key, e.value);
      times := times || jsonb_build_object(e.key, r.created_at);
      if not bases ? e.key then bases := bases || jsonb_build_object(e.key, r.previous -> e.key); end if;
    end loop;
  end loop;
  if cardinality(ids) = 0 then return new; end if;
  select ob.conflict_policy into policy from hubsync.objects ob where ob.object_type = v_type;

  for p in select jsonb_object_keys(local_vals) loop
    lv := local_vals ->> p;
    bv := bases ->> p;
    select cc.column_name, cc.pg_type into col_name, col_type from hubsync.columns cc
     where cc.object_type = v_type and cc.property_name = p;
    if col_name is not null then
      continue when (n -> col_name) is not distinct from (o -> col_name);
      hv := hubsync._encode_value(n -> col_name, col_type);
    else
      continue when (n -> 'properties' -> p) is not distinct from (o -> 'properties' -> p);
      hv := coalesce(n -> 'properties' ->> p, '');
    end if;
    continue when hv = lv;
    if bv is not null and hv = bv then
      winner := 'postgres';   -- not a conflict: HubSpot still has the old value
    else
      local_at := (times ->> p)::timestamptz;
      winner := case policy
        when 'hubspot_wins' then 'hubspot'
        when 'postgres_wins' then 'postgres'
        else case when hub_at > local_at then 'hubspot' else 'postgres' end
      end;
      resolved := case winner when 'hubspot' then hv else lv end;
      if policy = 'merge' and col_type in ('text[]', '_text') then
        -- three-way: an item stays if either side added it, goes if either side removed it
        select coalesce(array_agg(x order by x), '{}') into merged
          from (select unnest(string_to_array(nullif(lv, ''), ';')) union select unnest(string_to_array(nullif(hv, ''), ';'))) u(x)
         where not (x = any (string_to_array(coalesce(bv, ''), ';'))
                    and (not x = any (string_to_array(lv, ';')) or not x = any (string_to_array(hv, ';'))));
        resolved := array_to_string(merged, ';');
        winner := 'merged';
      end if;
      insert into hubsync.conflicts (object_type, record_id, local_id, property, local_value, hubspot_value, base_value,
                                     policy, winner, resolved_value, local_changed_at, hubspot_changed_at, outbox_id)
      values (v_type, n ->> 'id', (o ->> '_sync_local_id')::uuid, p, lv, hv, bv,
              policy, winner, resolved, local_at, hub_at, ids[cardinality(ids)]);
    end if;

    if winner = 'hubspot' then
      update hubsync.outbox ob set changes = ob.changes - p, previous = ob.previous - p where ob.id = any (ids);
    else
      -- The row keeps (or gets) the value that will be sent; HubSpot's value becomes the new base.
      if winner = 'merged' then
        update hubsync.outbox ob set changes = ob.changes || jsonb_build_object(p, resolved)
         where ob.id = (select max(x) from unnest(ids) x join hubsync.outbox ob2 on ob2.id = x where ob2.changes ? p);
      end if;
      update hubsync.outbox ob set previous = ob.previous || jsonb_build_object(p, hv) where ob.id = any (ids) and ob.changes ? p;
      if col_name is not null then
        overrides := overrides || jsonb_build_object(col_name,
          case when winner = 'merged' then hubsync._decode_value(resolved, col_type) else o -> col_name end);
      end if;
      props := props || jsonb_build_object(p, case when winner = 'merged' then resolved else lv end);
    end if;
  end loop;

  update hubsync.outbox ob set status = 'superseded' where ob.id = any (ids) and ob.changes = '{}';
  if overrides <> '{}' or props is distinct from coalesce(n -> 'properties', '{}') then
    if n ? 'properties' then overrides := overrides || jsonb_build_object('properties', props); end if;
    new := jsonb_populate_record(new, overrides);
  end if;
  return new;
end
$$;
revoke all on function hubsync._tg_pull_conflict() from public;

-- A pull that read a record just before a local DELETE of it committed must not insert the row
-- again. The pull's upsert checks the outbox too, but with its statement's snapshot: a DELETE that
-- commits while the upsert waits on the row lock lets ON CONFLICT fall back to a plain insert (and
-- BEFORE triggers have fired by then). This AFTER trigger's query takes a fresh snapshot (READ
-- COMMITTED), sees that DELETE's outbox row (still pending: the DELETE committed a moment ago)
-- and takes the row out again.
create or replace function hubsync._tg_pull_insert_deleted() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if new.id is not null and exists (
       select from hubsync.outbox ob
        where ob.object_type = tg_argv[0] and ob.record_id = new.id and ob.op = 'archive' and ob.status in ('pending', 'in_flight')) then
    execute format('delete from %s where id = $1', tg_relid::regclass) using new.id;
  end if;
  return null;
end
$$;
revoke all on function hubsync._tg_pull_insert_deleted() from public;

-- Association rows: insert = associate (with the row's type ids / labels), delete = unassociate,
-- relabel = associate with the new set (the old set is kept to remove labels no longer wanted).
-- An end may hold a row's _sync_local_id instead of a HubSpot id for a record created in the same
-- transaction; the push waits until that record has its id and then writes it into the row.
create or replace function hubsync._tg_outbox_association() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_type text := tg_argv[0];
  from_type text := tg_argv[1];
  to_type text := tg_argv[2];
  from_col text := tg_argv[3];
  to_col text := tg_argv[4];
  n jsonb;
  o jsonb;
  base jsonb;
begin
  base := jsonb_build_object('table', tg_table_name, 'fromType', from_type, 'toType', to_type,
                             'fromColumn', from_col, 'toColumn', to_col);
  if tg_op <> 'DELETE' then n := to_jsonb(new); end if;
  if tg_op <> 'INSERT' then o := to_jsonb(old); end if;
  if tg_op = 'UPDATE' and (n -> from_col) is not distinct from (o -> from_col) and (n -> to_col) is not distinct from (o -> to_col)
     and (n -> 'type_ids') is not distinct from (o -> 'type_ids') and (n -> 'labels') is not distinct from (o -> 'labels') then
    return null;
  end if;
  if tg_op = 'DELETE' or (tg_op = 'UPDATE' and ((n -> from_col) is distinct from (o -> from_col) or (n -> to_col) is distinct from (o -> to_col))) then
    insert into hubsync.outbox (object_type, op, changes)
    values (v_type, 'unassociate', base || jsonb_build_object('from', o ->> from_col, 'to', o ->> to_col));
  end if;
  if tg_op <> 'DELETE' then
    insert into hubsync.outbox (object_type, op, changes)
    values (v_type, 'associate', base || jsonb_build_object(
      'from', n ->> from_col, 'to', n ->> to_col,
      'typeIds', coalesce(n -> 'type_ids', '[]'), 'labels', coalesce(n -> 'labels', '[]'),
      'oldTypeIds', case when tg_op = 'UPDATE' and (n -> from_col) = (o -> from_col) and (n -> to_col) = (o -> to_col)
                         then coalesce(o -> 'type_ids', '[]') else '[]' end));
  end if;
  return null;
end
$$;
revoke all on function hubsync._tg_outbox_association() from public;

-- Wakes the push when the transaction that queued changes commits (a deferred constraint trigger
-- on hubsync.outbox), not at its first change: the job row add_job touches stays locked only for
-- the commit, so concurrent writers of one table never wait on each other's open transactions.
create or replace function hubsync._tg_outbox_wake() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform hubsync._wake_push(new.object_type);
  return null;
end
$$;
revoke all on function hubsync._tg_outbox_wake() from public;
drop trigger if exists hubsync_wake_push on hubsync.outbox;
create constraint trigger hubsync_wake_push after insert on hubsync.outbox
  deferrable initially deferred for each row when (new.status = 'pending')
  execute function hubsync._tg_outbox_wake();

-- The association tables with the object type at one end: table, both end columns and types.
-- src/core/associations/pairs.ts records its tables in hubsync.association_pairs; tables made another way are read from their
-- column names (<a>_id, <b>_id; from_<a>_id, to_<a>_id for a pair of one type).
create or replace function hubsync._association_tables(object_type text)
returns table (table_name text, from_column text, to_column text, from_type text, to_type text)
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
  return query
    select p.table_name, p.a_column, p.b_column, p.a_type, p.b_type
      from hubsync.association_pairs p
     where _association_tables.object_type in (p.a_type, p.b_type) and to_regclass(format('hubspot.%I', p.table_name)) is not null;
  if found then return; end if;
  return query
  with ends as (
    select c.relname::text as tbl, a.attname::text as col, a.attnum,
           hubsync._type_of_singular(regexp_replace(regexp_replace(a.attname, '^(from|to)_', ''), '_id$', '')) as end_type,
           row_number() over (partition by c.relname order by a.attnum) as pos
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace ns on ns.oid = c.relnamespace and ns.nspname = 'hubspot'
      join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
     where c.relkind in ('r', 'p') and c.relname like 'associations\_%' and a.attname like '%\_id' and a.attname not like '\_%'
  )
  select f.tbl, f.col, t.col, f.end_type, t.end_type
    from ends f join ends t on t.tbl = f.tbl and f.pos = 1 and t.pos = 2
   where _association_tables.object_type in (f.end_type, t.end_type);
end
$$;
revoke all on function hubsync._association_tables(text) from public;

create or replace function hubsync._apply_write_back(object_type text) returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects;
  rel regclass;
  on_ boolean;
  a record;
  owner_type text;
begin
  select * into o from hubsync.objects ob where ob.object_type = _apply_write_back.object_type;
  if not found then return; end if;
  rel := case when o.table_name is not null then to_regclass(format('hubspot.%I', o.table_name)) end;
  if rel is null then return; end if;   -- not discovered yet; discovery calls back
  on_ := o.write_back and o.enabled;

  -- DDL only when something is missing: this runs again after every discovery, possibly while a
  -- pull writes to the table, and even a no-op ALTER TABLE would queue for its exclusive lock.
  if on_ then
    if not exists (select from pg_catalog.pg_attribute where attrelid = rel and attname = '_sync_local_id' and not attisdropped) then
      execute format('alter table %s add column if not exists _sync_local_id uuid not null default gen_random_uuid()', rel);
    end if;
    if not exists (select from pg_catalog.pg_attribute where attrelid = rel and attname = '_sync_error' and not attisdropped) then
      execute format('alter table %s add column if not exists _sync_error text', rel);
    end if;
    execute format('create unique index if not exists %I on %s (_sync_local_id)', left(o.table_name, 40) || '_sync_local_id_key', rel);
    if not exists (select from pg_catalog.pg_trigger where tgrelid = rel and tgname = 'hubsync_outbox') then
      execute format('create or replace trigger hubsync_outbox after insert or update or delete on %s for each row '
                     'when (current_setting(''hubsync.applying'', true) is distinct from ''on'') '
                     'execute function hubsync._tg_outbox(%L)', rel, o.object_type);
    end if;
    if not exists (select from pg_catalog.pg_trigger where tgrelid = rel and tgname = 'hubsync_conflicts') then
      execute format('create or replace trigger hubsync_conflicts before update on %s for each row '
                     'when (current_setting(''hubsync.applying'', true) = ''on'' and current_setting(''hubsync.pushing'', true) is distinct from ''on'') '
                     'execute function hubsync._tg_pull_conflict(%L)', rel, o.object_type);
    end if;
    if not exists (select from pg_catalog.pg_trigger where tgrelid = rel and tgname = 'hubsync_pull_insert_deleted') then
      execute format('create or replace trigger hubsync_pull_insert_deleted after insert on %s for each row '
                     'when (current_setting(''hubsync.applying'', true) = ''on'') '
                     'execute function hubsync._tg_pull_insert_deleted(%L)', rel, o.object_type);
    end if;
    if not has_table_privilege('hubspot_writer', rel, 'insert, update, delete') then
      execute format('grant insert, update, delete on %s to hubspot_writer', rel);
    end if;
  elsif exists (select from pg_catalog.pg_trigger where tgrelid = rel and tgname in ('hubsync_outbox', 'hubsync_conflicts', 'hubsync_pull_insert_deleted')) then
    execute format('drop trigger if exists hubsync_outbox on %s', rel);
    execute format('drop trigger if exists hubsync_conflicts on %s', rel);
    execute format('drop trigger if exists hubsync_pull_insert_deleted on %s', rel);
  end if;

  for a in select * from hubsync._association_tables(o.object_type) loop
    -- The outbox rows of an association table belong to the first end with write-back on.
    select ob.object_type into owner_type from hubsync.objects ob
     where ob.object_type in (a.from_type, a.to_type) and ob.write_back and ob.enabled
     order by ob.object_type = a.from_type desc limit 1;
    if owner_type is not null then
      if not exists (select from pg_catalog.pg_trigger tg where tg.tgrelid = format('hubspot.%I', a.table_name)::regclass
                        and tg.tgname = 'hubsync_outbox'
                        and encode(tg.tgargs, 'escape') = owner_type || '\000' || a.from_type || '\000' || a.to_type || '\000'
                                                          || a.from_column || '\000' || a.to_column || '\000') then
        execute format('create or replace trigger hubsync_outbox after insert or update or delete on hubspot.%I for each row '
                       'when (current_setting(''hubsync.applying'', true) is distinct from ''on'') '
                       'execute function hubsync._tg_outbox_association(%L, %L, %L, %L, %L)',
                       a.table_name, owner_type, a.from_type, a.to_type, a.from_column, a.to_column);
      end if;
      if not has_table_privilege('hubspot_writer', format('hubspot.%I', a.table_name), 'insert, update, delete') then
        execute format('grant insert, update, delete on hubspot.%I to hubspot_writer', a.table_name);
      end if;
    elsif exists (select from pg_catalog.pg_trigger tg where tg.tgrelid = format('hubspot.%I', a.table_name)::regclass and tg.tgname = 'hubsync_outbox') then
      execute format('drop trigger if exists hubsync_outbox on hubspot.%I', a.table_name);
    end if;
  end loop;
  -- The push task creates the hubsync_local_id property in the portal before its first create.
  if on_ then perform hubsync._wake_push(o.object_type); end if;
end
$$;
revoke all on function hubsync._apply_write_back(text) from public;

-- Discovery (src/core/schema/discover.ts) creates or alters hubspot.<table> and then records it in
-- hubsync.objects: that is when write-back can be put on a table whose write_back was set before
-- the table existed.
create or replace function hubsync._tg_objects_write_back() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform hubsync._apply_write_back(new.object_type);
  return null;
end
$$;
revoke all on function hubsync._tg_objects_write_back() from public;
drop trigger if exists hubsync_push_write_back on hubsync.objects;
create trigger hubsync_push_write_back after insert or update of table_name, phase, write_back, enabled on hubsync.objects
  for each row when (new.table_name is not null and new.write_back)
  execute function hubsync._tg_objects_write_back();
