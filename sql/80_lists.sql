-- Lists (HubSpot calls them segments): hubspot.lists and hubspot.list_memberships, kept by the
-- worker (src/core/lists/) once a DBA calls hubsync.enable_sync('lists'), and write-back of
-- memberships: with hubsync.enable_sync('lists', write_back => true), an INSERT into
-- hubspot.list_memberships adds the record to the list in HubSpot and a DELETE removes it, through
-- hubsync.outbox like every other local change (sent in batches, exactly once, rejections kept
-- there with HubSpot's reason).
--
-- HubSpot takes members by hand only on MANUAL and SNAPSHOT lists (a SNAPSHOT list is filled from
-- its filters once, then behaves like a MANUAL one); a DYNAMIC list's members follow its filters,
-- so a local change to one is refused at once, with the reason, rather than queued to fail.

-- Creates the two tables (idempotent; discovery calls it) and puts the write-back trigger on
-- hubspot.list_memberships. DDL only when something is missing: a pull may be writing.
create or replace function hubsync._ensure_list_tables() returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if to_regclass('hubspot.lists') is null then
    create table if not exists hubspot.lists (
      list_id text primary key,
      name text not null,
      object_type_id text not null,
      object_type text,
      processing_type text not null,
      processing_status text,
      size bigint,
      filters jsonb,
      list_version integer,
      created_at timestamptz,
      updated_at timestamptz,
      filters_updated_at timestamptz,
      deleted_at timestamptz,
      _sync_inserted_at timestamptz not null default now(),
      _sync_updated_at timestamptz not null default now()
    );
    comment on table hubspot.lists is
      'HubSpot''s lists (segments): processing_type MANUAL (members by hand), DYNAMIC (members follow the filters) or '
      'SNAPSHOT (filled from the filters once, then by hand); filters is HubSpot''s filterBranch; deleted_at is set when '
      'the list was deleted in HubSpot (its memberships are then gone)';
  end if;
  if to_regclass('hubspot.list_memberships') is null then
    create table if not exists hubspot.list_memberships (
      list_id text not null,
      record_id text not null,
      added_at timestamptz not null default now(),
      _sync_inserted_at timestamptz not null default now(),
      primary key (list_id, record_id)
    );
    create index if not exists list_memberships_record_id_idx on hubspot.list_memberships (record_id);
    comment on table hubspot.list_memberships is
      'Which records are in which list (record_id is the id in the hubspot table of the list''s object type), and since '
      'when (added_at: HubSpot''s join time). With write-back on, INSERT adds a record to a MANUAL or SNAPSHOT list in '
      'HubSpot and DELETE removes it';
  end if;
  if exists (select from pg_catalog.pg_roles where rolname = 'hubspot_reader') then
    grant select on hubspot.lists, hubspot.list_memberships to hubspot_reader;
  end if;
  if not exists (select from pg_catalog.pg_trigger where tgrelid = 'hubspot.list_memberships'::regclass and tgname = 'hubsync_outbox') then
    create trigger hubsync_outbox after insert or update or delete on hubspot.list_memberships for each row
      when (current_setting('hubsync.applying', true) is distinct from 'on')
      execute function hubsync._tg_list_membership();
  end if;
  perform hubsync._apply_list_write_back();
end
$$;
revoke all on function hubsync._ensure_list_tables() from public;

-- Grants hubspot_writer INSERT and DELETE on hubspot.list_memberships while lists are synced with
-- write-back on, and takes them back otherwise (called when the flag changes and by discovery).
create or replace function hubsync._apply_list_write_back() returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  on_ boolean;
begin
  if to_regclass('hubspot.list_memberships') is null then return; end if;
  select coalesce(bool_and(o.enabled and o.write_back), false) into on_ from hubsync.objects o where o.object_type = 'lists';
  if on_ then
    grant insert, delete on hubspot.list_memberships to hubspot_writer;
  else
    revoke insert, update, delete on hubspot.list_memberships from hubspot_writer;
  end if;
end
$$;
revoke all on function hubsync._apply_list_write_back() from public;

-- The write-back trigger of hubspot.list_memberships (local writes only: the worker's own writes
-- run with hubsync.applying = 'on'). A row's change becomes one outbox row of object type 'lists':
-- op 'list_add' or 'list_remove', record_id the member, changes {"listId", "recordId"}. Refused
-- here, with the reason, whatever HubSpot would refuse for certain or hubsync could never send.
create or replace function hubsync._tg_list_membership() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  lid text;
  rid text;
  l record;
begin
  if tg_op = 'UPDATE' then
    if (new.list_id, new.record_id) is not distinct from (old.list_id, old.record_id) then return null; end if;
    raise exception using errcode = '0A000',
      message = 'hubsync: a list membership cannot be moved in place',
      hint = 'Delete the row (the record leaves the list) and insert the new one (the record joins the other list).';
  end if;
  if tg_op = 'INSERT' then lid := new.list_id; rid := new.record_id; else lid := old.list_id; rid := old.record_id; end if;
  if not exists (select from hubsync.objects o where o.object_type = 'lists' and o.enabled and o.write_back) then
    raise exception using errcode = '55000',
      message = 'hubsync: write-back for lists is off, so this membership change would never reach HubSpot',
      hint = 'Turn it on with: select hubsync.enable_sync(''lists'', write_back => true);';
  end if;
  select * into l from hubspot.lists where list_id = lid;
  if not found then
    raise exception using errcode = '23503',
      message = format('hubsync: there is no list %s in hubspot.lists', lid),
      hint = 'list_id is HubSpot''s list id (hubspot.lists.list_id). Create the list in HubSpot first; the next pull brings it.';
  end if;
  if l.deleted_at is not null then
    raise exception using errcode = '55000',
      message = format('hubsync: list %s (%s) was deleted in HubSpot at %s', lid, l.name, l.deleted_at),
      hint = 'Restore it in HubSpot (within 90 days of the delete); the next pull brings it back.';
  end if;
  if l.processing_type = 'DYNAMIC' then
    raise exception using errcode = '55000',
      message = format('hubsync: list %s (%s) is a DYNAMIC list: HubSpot decides its members from its filters', lid, l.name),
      hint = 'Change the records'' properties (or the list''s filters in HubSpot) instead. Only MANUAL and SNAPSHOT lists take members by hand.';
  end if;
  insert into hubsync.outbox (object_type, record_id, op, changes)
  values ('lists', rid, case when tg_op = 'INSERT' then 'list_add' else 'list_remove' end, jsonb_build_object('listId', lid, 'recordId', rid));
  -- one push wake-up per transaction (hubsync_wake_push on hubsync.outbox)
  if position(',lists,' in coalesce(current_setting('hubsync.wake_queued', true), '')) = 0 then
    perform set_config('hubsync.wake_queued', coalesce(current_setting('hubsync.wake_queued', true), '') || ',lists,', true);
  end if;
  return null;
end
$$;
revoke all on function hubsync._tg_list_membership() from public;

-- The tables exist from the install on (empty until lists are enabled), so views and a DBA's
-- queries can name them; tables made before this file changed get the current trigger and grants.
select hubsync._ensure_list_tables();

-- The membership changes HubSpot refused, one row each, with its reason and the list's name:
-- what a DBA looks at after hubsync.status shows rejected changes for lists.
create or replace view hubsync.list_rejections as
select ob.id as outbox_id,
       ob.changes ->> 'listId' as list_id,
       l.name as list_name,
       ob.record_id,
       case ob.op when 'list_add' then 'add' else 'remove' end as change,
       ob.error_category,
       ob.error_message,
       ob.created_at,
       ob.last_attempt_at
  from hubsync.outbox ob
  left join hubspot.lists l on l.list_id = ob.changes ->> 'listId'
 where ob.object_type = 'lists' and ob.status = 'rejected';
comment on view hubsync.list_rejections is
  'List membership changes (INSERT or DELETE on hubspot.list_memberships) HubSpot refused, with its reason '
  '(e.g. a record id HubSpot does not have); hubsync.retry_rejected(''lists'') sends them again';
grant select on hubsync.list_rejections to hubsync_admin;

-- Lists kept equal to a query (reverse ETL into a list). hubsync.publish_list records the
-- publication; at each pull of lists (every minute, and at once after publish_list) the worker
-- creates the MANUAL list in HubSpot if it has no list of that name, then hubsync._publish_list_run
-- makes the list's rows in hubspot.list_memberships equal to the source's: the INSERTs and DELETEs
-- go through the write-back trigger above, so they reach HubSpot as the same batched membership
-- calls as any local edit, and an unchanged source costs no call at all.

-- How a source's rows name records: a HubSpot id column (hs_object_id, record_id or id), else an
-- email (contacts) or domain (companies) looked up in the synced table. key_expr reads row `s`.
create or replace function hubsync._publish_list_key(source regclass, object_type text, out key_column text, out key_expr text)
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  cols text[];
  tbl text;
begin
  select array_agg(a.attname::text) into cols from pg_catalog.pg_attribute a
   where a.attrelid = _publish_list_key.source and a.attnum > 0 and not a.attisdropped;
  key_column := (select c from unnest(array['hs_object_id', 'record_id', 'id']) c where c = any (cols) limit 1);
  if key_column is not null then
    key_expr := format('nullif(s.%I::text, %L)', key_column, '');
    return;
  end if;
  select o.table_name into tbl from hubsync.objects o where o.object_type = _publish_list_key.object_type and o.table_name is not null;
  if _publish_list_key.object_type = 'contacts' and 'email' = any (cols) and tbl is not null then
    key_column := 'email';
    key_expr := format('(select t.id from hubspot.%I t where lower(t.email) = lower(s.email::text) and t.id is not null limit 1)', tbl);
    return;
  end if;
  if _publish_list_key.object_type = 'companies' and 'domain' = any (cols) and tbl is not null then
    key_column := 'domain';
    key_expr := format('(select t.id from hubspot.%I t where lower(t.domain) = lower(s.domain::text) and t.id is not null limit 1)', tbl);
    return;
  end if;
  raise exception using errcode = '22023',
    message = format('hubsync: %s has no column that names %s records', _publish_list_key.source, _publish_list_key.object_type),
    hint = 'Give the source a column hs_object_id, record_id or id holding HubSpot record ids; or, with contacts or companies synced, '
           'an email (contacts) or domain (companies) column, matched against hubspot.contacts / hubspot.companies.';
end
$$;
revoke all on function hubsync._publish_list_key(regclass, text) from public;

create or replace function hubsync.publish_list(name text, source regclass, list_name text, object_type text) returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  k record;
  prev hubsync.list_publications;
begin
  if coalesce(btrim(publish_list.name), '') = '' or coalesce(btrim(publish_list.list_name), '') = '' or publish_list.source is null then
    raise exception using errcode = '22023', message = 'hubsync: name, source and list_name are required',
      hint = 'e.g. select hubsync.publish_list(''vip'', ''analytics.vip_contacts'', ''VIP customers'', ''contacts'');';
  end if;
  if hubsync._object_kind(publish_list.object_type) <> 'crm' then
    raise exception using errcode = '22023', message = format('hubsync: lists hold CRM records, not %s', publish_list.object_type),
      hint = 'Pass the object type of the list''s records, e.g. ''contacts'' or ''companies''.';
  end if;
  if not exists (select from hubsync.objects o where o.object_type = 'lists' and o.enabled and o.write_back) then
    raise exception using errcode = '55000', message = 'hubsync: a published list is kept through lists'' write-back, which is off',
      hint = 'Turn it on first: select hubsync.enable_sync(''lists'', write_back => true);';
  end if;
  k := hubsync._publish_list_key(publish_list.source, publish_list.object_type);
  select * into prev from hubsync.list_publications p where p.name = publish_list.name;
  insert into hubsync.list_publications as p (name, source, list_name, object_type, key_column)
  values (publish_list.name, publish_list.source::text, publish_list.list_name, publish_list.object_type, k.key_column)
  on conflict on constraint list_publications_pkey do update
     set source = excluded.source, key_column = excluded.key_column, list_name = excluded.list_name, object_type = excluded.object_type,
         list_id = case when (p.list_name, p.object_type) = (excluded.list_name, excluded.object_type) then p.list_id end,
         last_error = null, last_error_at = null;
  perform hubsync._enqueue('hubsync_pull', 'lists');
  return format('%s: list "%s" (%s) kept equal to %s, records named by its column %s; the first run is queued',
                publish_list.name, publish_list.list_name, publish_list.object_type, publish_list.source, k.key_column);
end
$$;
revoke all on function hubsync.publish_list(text, regclass, text, text) from public;
grant execute on function hubsync.publish_list(text, regclass, text, text) to hubsync_admin;
comment on function hubsync.publish_list(text, regclass, text, text) is
  'Keeps a HubSpot MANUAL list equal to a table''s or view''s rows, under a name of your choice: the list (list_name, '
  'records of object_type) is created in HubSpot if it does not exist, then at every pull of lists (each minute) records '
  'that entered the source are added and records that left it removed, through the same batched membership calls as '
  'write-back. Rows name records by a column hs_object_id, record_id or id, or email (contacts) / domain (companies). '
  'Needs hubsync.enable_sync(''lists'', write_back => true). See hubsync.list_publications';

create or replace function hubsync.unpublish_list(name text) returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  delete from hubsync.list_publications p where p.name = unpublish_list.name;
  if not found then
    raise exception using errcode = '22023', message = format('hubsync: there is no list publication %L', unpublish_list.name),
      hint = 'select name from hubsync.list_publications;';
  end if;
  return format('%s: no longer kept; the list and its members stay as they are', unpublish_list.name);
end
$$;
revoke all on function hubsync.unpublish_list(text) from public;
grant execute on function hubsync.unpublish_list(text) to hubsync_admin;
comment on function hubsync.unpublish_list(text) is
  'Stops keeping a published list equal to its source (hubsync.publish_list); the list and its members stay in HubSpot';

-- One run of a publication whose list is known: the source's records in, the others out, as local
-- changes (the write-back trigger queues them). Returns {added, removed, unmatched}.
create or replace function hubsync._publish_list_run(name text) returns jsonb
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  p hubsync.list_publications;
  k record;
  added integer;
  removed integer;
  unmatched integer;
begin
  select * into p from hubsync.list_publications lp where lp.name = _publish_list_run.name;
  if not found or p.list_id is null then return null; end if;
  k := hubsync._publish_list_key(p.source::regclass, p.object_type);
  execute format('insert into hubspot.list_memberships (list_id, record_id)
                  select distinct $1, w.record_id from (select %s as record_id from %s s) w where w.record_id is not null
                  on conflict (list_id, record_id) do nothing', k.key_expr, p.source)
    using p.list_id;
  get diagnostics added = row_count;
  execute format('delete from hubspot.list_memberships m where m.list_id = $1
                    and not exists (select from (select %s as record_id from %s s) w where w.record_id = m.record_id)', k.key_expr, p.source)
    using p.list_id;
  get diagnostics removed = row_count;
  execute format('select count(*) from %s s where %s is null', p.source, k.key_expr) into unmatched;
  update hubsync.list_publications lp
     set last_run_at = now(), last_added = added, last_removed = removed, last_unmatched = unmatched, last_error = null, last_error_at = null
   where lp.name = p.name;
  return jsonb_build_object('added', added, 'removed', removed, 'unmatched', unmatched);
end
$$;
revoke all on function hubsync._publish_list_run(text) from public;
