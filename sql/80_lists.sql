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
