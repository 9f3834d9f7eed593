-- Refresh on demand: "read these records from HubSpot now". The request is a row of
-- hubsync.refresh_requests; the worker's hubsync_refresh job (src/core/pull/refresh.ts) reads the
-- records and their associations, ahead of every other waiting job (graphile-worker priority), in
-- the worker slots pushes have (so running backfills and pulls do not hold it up).

create or replace function hubsync.refresh(object_type text, ids text[]) returns bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects := hubsync._require_object(refresh.object_type);
  wanted text[];
  request bigint;
  -- a refresh is for a handful of records someone is looking at; a whole type is what resync is for
  max_ids constant integer := 1000;
begin
  if o.kind <> 'crm' then
    raise exception using errcode = '22023',
      message = format('hubsync: %s have no record ids to refresh', o.object_type),
      hint = 'Refresh reads CRM records (contacts, deals, custom objects, ...) by id.';
  end if;
  perform hubsync._require_enabled(o, format('Enable it again first: select hubsync.enable_sync(%L);', o.object_type));
  if o.table_name is null then
    raise exception using errcode = '22023',
      message = format('hubsync: %s has not been discovered yet; there is no table to refresh', o.object_type),
      hint = 'Wait until hubsync.status shows it backfilling or live (the worker must be running).';
  end if;
  if refresh.ids is null or cardinality(refresh.ids) = 0 then
    raise exception using errcode = '22023',
      message = 'hubsync: no ids to refresh',
      hint = format('Pass HubSpot record ids, e.g. select hubsync.refresh(%L, array[''123'', ''456'']);', o.object_type);
  end if;
  if exists (select from unnest(refresh.ids) i where i is null or btrim(i) !~ '^[0-9]+$') then
    raise exception using errcode = '22023',
      message = format('hubsync: %s is not a HubSpot record id',
                       (select coalesce(quote_literal(i), 'null') from unnest(refresh.ids) i where i is null or btrim(i) !~ '^[0-9]+$' limit 1)),
      hint = 'HubSpot record ids are whole numbers (the id column of hubspot.<table>).';
  end if;
  select array_agg(distinct btrim(i)) into wanted from unnest(refresh.ids) i;
  if cardinality(wanted) > max_ids then
    raise exception using errcode = '22023',
      message = format('hubsync: %s ids in one refresh; at most %s', cardinality(wanted), max_ids),
      hint = format('Split the list, or re-read the whole type with select hubsync.resync(%L);', o.object_type);
  end if;
  insert into hubsync.refresh_requests (object_type, record_ids) values (o.object_type, wanted) returning id into request;
  -- lower runs first: pushes and webhook applies are queued at -10, everything else at 0
  perform hubsync._enqueue('hubsync_refresh', o.object_type, null, -20);
  return request;
end
$$;
revoke all on function hubsync.refresh(text, text[]) from public;
grant execute on function hubsync.refresh(text, text[]) to hubsync_admin;
comment on function hubsync.refresh(text, text[]) is
  'Reads these records (HubSpot ids) and their associations from HubSpot now, ahead of every other job; returns at once '
  'with the request''s id in hubsync.refresh_requests, whose done_at says when the rows are current. Ids HubSpot no '
  'longer has are removed (or marked, per on_archive) as the reconciliation does. At most 1,000 ids a call';
