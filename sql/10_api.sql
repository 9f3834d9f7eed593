-- hubsync's SQL API: how a DBA turns sync on and off. Re-applied by every `hubsync install`, so
-- everything here is `create or replace`.
--
-- Functions that change configuration are SECURITY DEFINER with a fixed search_path: they run as
-- the installing role, which owns hubsync_worker (graphile-worker's add_job needs its owner's rights),
-- and a caller cannot hijack them with objects in its own schemas. Every name inside is
-- schema-qualified. Execute is granted to hubsync_admin only, beside each function; the SECURITY
-- DEFINER helpers (names starting with _) stay private to the owner.
--
-- Errors use SQLSTATE 22023 (invalid_parameter_value) with a HINT that says what to do instead.

-- The object types HubSpot has built in; anything else that looks like a name is a custom object,
-- which discovery looks up in the schemas API (and reports in hubsync.status if it is not there).
create or replace function hubsync.standard_object_types() returns text[]
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
  select array['contacts', 'companies', 'deals', 'tickets', 'products', 'line_items', 'quotes', 'calls',
               'emails', 'meetings', 'notes', 'tasks', 'postal_mail', 'communications']
$$;
comment on function hubsync.standard_object_types() is
  'The object types HubSpot has built in, as hubsync.enable_sync() takes them; any other name is looked up as a custom object';

-- Validates an object type name and says which kind it is ('crm', 'owners', 'pipelines').
-- Names people plausibly type instead (singulars, type ids, capitals) get a hint with the right one.
create or replace function hubsync._object_kind(object_type text) returns text
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  t text := _object_kind.object_type;
  standard text[] := hubsync.standard_object_types();
  by_id jsonb := '{"0-1":"contacts","0-2":"companies","0-3":"deals","0-5":"tickets","0-7":"products",
                   "0-8":"line_items","0-14":"quotes","0-48":"calls","0-49":"emails","0-47":"meetings",
                   "0-46":"notes","0-27":"tasks","0-116":"postal_mail","0-18":"communications"}';
  singular jsonb := '{"contact":"contacts","company":"companies","deal":"deals","ticket":"tickets",
                      "product":"products","line_item":"line_items","lineitem":"line_items","line_items":"line_items",
                      "lineitems":"line_items","quote":"quotes","call":"calls","email":"emails","meeting":"meetings",
                      "note":"notes","task":"tasks","communication":"communications","postal_mails":"postal_mail",
                      "owner":"owners","pipeline":"pipelines","list":"lists","segment":"lists","segments":"lists"}';
  suggestion text;
begin
  if t is null or btrim(t) = '' then
    raise exception using errcode = '22023', message = 'hubsync: object_type is required',
      hint = format('Pass a HubSpot object type such as ''contacts'': one of %s, ''owners'', ''pipelines'', or a custom object''s name.',
                    array_to_string(standard, ', '));
  end if;
  if t = any (standard) then return 'crm'; end if;
  if t = 'owners' then return 'owners'; end if;
  if t = 'pipelines' then return 'pipelines'; end if;
  if t = 'lists' then return 'lists'; end if;

  suggestion := coalesce(by_id ->> t, singular ->> lower(btrim(t)),
                         case when lower(btrim(t)) = any (standard || array['owners', 'pipelines']) then lower(btrim(t)) end);
  if suggestion is not null then
    raise exception using errcode = '22023',
      message = format('hubsync: unknown object type %L', t),
      hint = format('Did you mean %L? Object types are HubSpot''s plural names in lower case.', suggestion);
  end if;
  if t ~ '^2-[0-9]+$' then
    raise exception using errcode = '22023',
      message = format('hubsync: %L is a custom object type id; hubsync wants the custom object''s name', t),
      hint = 'Use the "name" from GET /crm/v3/schemas (e.g. ''cars''); hubsync.objects.object_type_id keeps the id.';
  end if;
  if t !~ '^[a-z][a-z0-9_]*$' or octet_length(t) > 63 then
    raise exception using errcode = '22023',
      message = format('hubsync: %L is not a valid object type name', t),
      hint = format('Use one of %s, ''owners'', ''pipelines'', or a custom object''s name '
                    '(lower case letters, digits and _, starting with a letter, at most 63 bytes).',
                    array_to_string(standard, ', '));
  end if;
  return 'crm';
end
$$;

-- Grants hubspot_writer on the object's table to match its write_back flag, then has
-- hubsync._apply_write_back (sql/41_push_triggers.sql) install or remove the write-back triggers. Called when the flag changes, and by discovery after it has
-- created or altered the table (the table does not exist yet when write-back is enabled up front).
create or replace function hubsync._refresh_write_back(object_type text) returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  o record;
  rel regclass;
begin
  select * into o from hubsync.objects where objects.object_type = _refresh_write_back.object_type;
  if not found then return; end if;
  -- lists write back memberships only (sql/80_lists.sql)
  if o.kind = 'lists' then perform hubsync._apply_list_write_back(); return; end if;
  rel := case when o.table_name is not null then to_regclass(format('hubspot.%I', o.table_name)) end;
  if rel is not null then
    if o.write_back and o.enabled then
      execute format('grant insert, update, delete on %s to hubspot_writer', rel);
    else
      execute format('revoke insert, update, delete on %s from hubspot_writer', rel);
    end if;
  end if;
  perform hubsync._apply_write_back(o.object_type);
end
$$;
revoke all on function hubsync._refresh_write_back(text) from public;

-- Refuses a backfill horizon that means nothing: on owners and pipelines (always read whole), or
-- in the future. `fn` names the function called, for the hint.
create or replace function hubsync._check_backfill_since(object_type text, kind text, since timestamptz, fn text) returns void
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
  if _check_backfill_since.since is not null and _check_backfill_since.kind <> 'crm' then
    raise exception using errcode = '22023',
      message = format('hubsync: %s are read whole; a backfill horizon does not apply', _check_backfill_since.object_type),
      hint = format('Call %s(%L) without since.', fn, _check_backfill_since.object_type);
  end if;
  if _check_backfill_since.since > now() then
    raise exception using errcode = '22023',
      message = format('hubsync: the backfill horizon %s is in the future', _check_backfill_since.since),
      hint = 'Pass the earliest last-modified date to backfill from, e.g. since => ''2024-01-01'' (null: every record).';
  end if;
end
$$;
revoke all on function hubsync._check_backfill_since(text, text, timestamptz, text) from public;

-- Start syncing an object type, or change the configuration of one already enabled (the call
-- states the whole configuration: properties and write_back). Discovery, table creation,
-- backfill and live polling follow on their own once the worker runs. `since` is the backfill
-- horizon: only records modified since then are backfilled. It concerns what is read before the
-- type goes live, so it is set with the first call (or any call before the backfill starts);
-- leaving it out later keeps the horizon as it is, and hubsync.resync(type, since => …) moves it.
create or replace function hubsync.enable_sync(object_type text, properties text[] default null, write_back boolean default false,
                                               since timestamptz default null)
returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_variable
declare
  t text := enable_sync.object_type;
  k text := hubsync._object_kind(t);
  props text[];
  wb boolean := coalesce(enable_sync.write_back, false);
  previous record;
  backfill_started boolean;
begin
  if enable_sync.properties is not null then
    if cardinality(enable_sync.properties) = 0 then
      raise exception using errcode = '22023',
        message = format('hubsync: empty property list for %s', t),
        hint = 'Pass null for HubSpot''s default properties as columns (every property is kept in the properties jsonb column either way), or list the properties you want as columns.';
    end if;
    if exists (select from unnest(enable_sync.properties) p where p is null or btrim(p) = '') then
      raise exception using errcode = '22023',
        message = format('hubsync: the property list for %s contains a null or empty name', t),
        hint = 'Property names are HubSpot''s internal names, e.g. array[''email'', ''firstname''].';
    end if;
    -- Keep the caller's order, drop repeats.
    select array_agg(p order by first_pos) into props
      from (select p, min(pos) as first_pos from unnest(enable_sync.properties) with ordinality u(p, pos) group by p) d;
  end if;
  if k <> 'crm' and props is not null then
    raise exception using errcode = '22023',
      message = format('hubsync: %s have a fixed shape; properties cannot be chosen', t),
      hint = format('Call hubsync.enable_sync(%L) without properties.', t);
  end if;
  if k not in ('crm', 'lists') and wb then
    raise exception using errcode = '22023',
      message = format('hubsync: %s are read-only in HubSpot''s API; write-back is not possible', t),
      hint = format('Call hubsync.enable_sync(%L) without write_back.', t);
  end if;

  perform hubsync._check_backfill_since(t, k, enable_sync.since, 'hubsync.enable_sync');

  select o.enabled, o.write_back, o.backfill_since into previous from hubsync.objects o where o.object_type = t for update;
  backfill_started := exists (select from hubsync.cursors c where c.object_type = t and c.stream = 'backfill');
  if enable_sync.since is not null and previous is not null and previous.backfill_since is distinct from enable_sync.since
     and backfill_started then
    raise exception using errcode = '22023',
      message = format('hubsync: %s has been backfilled %s; since only applies before the backfill starts', t,
                       coalesce('from ' || previous.backfill_since::text, 'in full')),
      hint = format('Move the horizon with select hubsync.resync(%L, since => %L); rows already there are kept.', t, enable_sync.since::text);
  end if;

  insert into hubsync.objects as o (object_type, kind, enabled, properties, write_back, phase, backfill_since)
  values (t, k, true, props, wb, 'discovering', enable_sync.since)
  on conflict on constraint objects_pkey do update
     set enabled = true, properties = excluded.properties, write_back = excluded.write_back,
         backfill_since = coalesce(excluded.backfill_since, o.backfill_since),
         phase = 'discovering', last_error = null, last_error_at = null, updated_at = now(),
         enabled_at = case when o.enabled then o.enabled_at else now() end;

  perform hubsync._enqueue('hubsync_discover', t);

  if previous is not null and previous.write_back is distinct from wb then
    if not wb then
      raise notice 'hubsync: write-back for % is now off (pass write_back => true to keep it on)', t;
    end if;
    perform hubsync._refresh_write_back(t);
  elsif previous is null and wb then
    perform hubsync._refresh_write_back(t);
  end if;

  return format('%s: %s; discovery queued%s%s', t,
                case when previous is null then 'enabled' when previous.enabled then 'configuration updated' else 're-enabled' end,
                case when wb then ', write-back on' else '' end,
                case when enable_sync.since is not null and not backfill_started
                     then format(', backfill of records modified since %s', enable_sync.since) else '' end);
end
$$;
revoke all on function hubsync.enable_sync(text, text[], boolean, timestamptz) from public;
grant execute on function hubsync.enable_sync(text, text[], boolean, timestamptz) to hubsync_admin;
comment on function hubsync.enable_sync(text, text[], boolean, timestamptz) is
  'Starts syncing an object type (a standard type, a custom object''s name, ''owners'', ''pipelines'' or ''lists''), or restates '
  'the configuration of one already enabled. properties: the HubSpot properties to keep as typed columns (null = HubSpot''s '
  'defaults; every property is in the properties jsonb column either way). write_back: local inserts, updates and deletes '
  'go to HubSpot. since: the backfill horizon, only records modified since then are backfilled (the incremental pull keeps '
  'everything newer; null keeps the horizon as it is, none at first; hubsync.resync(type, since => …) moves it later). '
  'Discovery, backfill and live pulls follow once the worker runs; see hubsync.status';

-- Looks up an enabled-or-disabled object type for the functions below, with a useful error.
create or replace function hubsync._require_object(object_type text) returns hubsync.objects
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects;
begin
  perform hubsync._object_kind(_require_object.object_type);
  select * into o from hubsync.objects where objects.object_type = _require_object.object_type;
  if not found then
    raise exception using errcode = '22023',
      message = format('hubsync: %s has never been enabled', _require_object.object_type),
      hint = format('Enable it first: select hubsync.enable_sync(%L);', _require_object.object_type);
  end if;
  return o;
end
$$;
revoke all on function hubsync._require_object(text) from public;

-- Refuses a disabled object type, for the functions that act on a synced one (resync, write-back,
-- refresh); hint: how to go on from there, which depends on what the caller was asked to do.
create or replace function hubsync._require_enabled(o hubsync.objects, hint text) returns void
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
  if not o.enabled then
    raise exception using errcode = '22023', message = format('hubsync: %s is disabled', o.object_type), hint = _require_enabled.hint;
  end if;
end
$$;
revoke all on function hubsync._require_enabled(hubsync.objects, text) from public;

-- Stop pulling an object type. Its table and data stay (and stay readable); queued pulls are
-- dropped; the tasks skip disabled types. enable_sync() resumes from the saved cursors.
create or replace function hubsync.disable_sync(object_type text) returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects := hubsync._require_object(disable_sync.object_type);
  stream text;
begin
  if not o.enabled then
    return format('%s: already disabled', o.object_type);
  end if;
  update hubsync.objects set enabled = false, phase = 'disabled', updated_at = now()
   where objects.object_type = o.object_type;
  foreach stream in array array['hubsync_discover', 'hubsync_backfill', 'hubsync_pull'] loop
    perform hubsync_worker.remove_job(hubsync._job_key(stream, o.object_type));
  end loop;
  if o.write_back then
    perform hubsync._refresh_write_back(o.object_type);
  end if;
  return format('%s: disabled; the data in hubspot.%s is kept', o.object_type, coalesce(o.table_name, o.object_type));
end
$$;
revoke all on function hubsync.disable_sync(text) from public;
grant execute on function hubsync.disable_sync(text) to hubsync_admin;
comment on function hubsync.disable_sync(text) is
  'Stops syncing an object type: queued pulls are dropped, its table and data stay readable. '
  'hubsync.enable_sync() resumes from where it stopped';

-- Pull everything again: forget every checkpoint of the object type and backfill from scratch
-- (discover first if it never got that far). Rows are upserted, so the table stays usable meanwhile.
create or replace function hubsync.resync(object_type text) returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects := hubsync._require_object(resync.object_type);
begin
  perform hubsync._require_enabled(o, format('Enable it again with hubsync.enable_sync(%L); that re-discovers it and continues from its cursors, or call resync afterwards for a full re-pull.', o.object_type));
  delete from hubsync.cursors c where c.object_type = o.object_type;
  if o.table_name is null then
    update hubsync.objects set phase = 'discovering', last_error = null, last_error_at = null, updated_at = now()
     where objects.object_type = o.object_type;
    perform hubsync._enqueue('hubsync_discover', o.object_type);
    return format('%s: never discovered; discovery queued, the backfill follows', o.object_type);
  end if;
  update hubsync.objects set phase = 'backfilling', last_error = null, last_error_at = null, updated_at = now()
   where objects.object_type = o.object_type;
  perform hubsync._enqueue('hubsync_backfill', o.object_type);
  return format('%s: cursors cleared; full backfill queued', o.object_type);
end
$$;
revoke all on function hubsync.resync(text) from public;
grant execute on function hubsync.resync(text) to hubsync_admin;
comment on function hubsync.resync(text) is
  'Pulls an object type again from scratch: forgets its checkpoints and queues a full backfill, of the records modified '
  'since its backfill horizon when it has one (rows are upserted, so the table stays usable meanwhile)';

-- Moves the backfill horizon (hubsync.objects.backfill_since; null = every record). Rows already
-- there are never dropped. Widening it (an earlier date, or null) once a backfill finished reads
-- only what lies between: records modified before the old horizon and since the new one; the
-- incremental pull keeps its place meanwhile. Any other move is resync(object_type) with the new
-- horizon: the cursors are forgotten and everything modified since it is read again.
create or replace function hubsync.resync(object_type text, since timestamptz) returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects := hubsync._require_object(resync.object_type);
  done boolean;
begin
  perform hubsync._check_backfill_since(o.object_type, o.kind, resync.since, 'hubsync.resync');
  done := exists (select from hubsync.cursors c where c.object_type = o.object_type and c.stream = 'backfill' and c.state ->> 'done' = 'true');
  if not o.enabled or o.table_name is null or not done or o.backfill_since is null
     or (resync.since is not null and resync.since >= o.backfill_since) then
    update hubsync.objects set backfill_since = resync.since, updated_at = now() where objects.object_type = o.object_type;
    return hubsync.resync(o.object_type);
  end if;
  update hubsync.objects
     set backfill_since = resync.since, phase = 'backfilling', last_error = null, last_error_at = null, updated_at = now()
   where objects.object_type = o.object_type;
  -- the backfill's own checkpoints only: the incremental and archived streams keep their places
  delete from hubsync.cursors c where c.object_type = o.object_type and (c.stream = 'backfill' or c.stream like 'backfill-%');
  perform hubsync._enqueue('hubsync_backfill', o.object_type);
  return format('%s: horizon widened to %s; backfill of the records modified before %s queued (rows already there are kept)',
                o.object_type, coalesce('records modified since ' || resync.since::text, 'every record'), o.backfill_since);
end
$$;
revoke all on function hubsync.resync(text, timestamptz) from public;
grant execute on function hubsync.resync(text, timestamptz) to hubsync_admin;
comment on function hubsync.resync(text, timestamptz) is
  'Moves the backfill horizon of an object type to since (null = every record) and reads what that adds: widening it '
  'after a finished backfill reads only the records modified between the new and the old horizon; any other move pulls '
  'again from scratch like hubsync.resync(object_type). Rows already there are kept';

create or replace function hubsync.enable_write_back(object_type text) returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects := hubsync._require_object(enable_write_back.object_type);
begin
  if o.kind not in ('crm', 'lists') then
    raise exception using errcode = '22023',
      message = format('hubsync: %s are read-only in HubSpot''s API; write-back is not possible', o.object_type);
  end if;
  perform hubsync._require_enabled(o, format('Enable it first: select hubsync.enable_sync(%L, write_back => true);', o.object_type));
  if o.write_back then
    return format('%s: write-back already on', o.object_type);
  end if;
  update hubsync.objects set write_back = true, updated_at = now() where objects.object_type = o.object_type;
  perform hubsync._refresh_write_back(o.object_type);
  return format('%s: write-back on; inserts, updates and deletes in hubspot.%s go to HubSpot',
                o.object_type, coalesce(o.table_name, o.object_type));
end
$$;
revoke all on function hubsync.enable_write_back(text) from public;
grant execute on function hubsync.enable_write_back(text) to hubsync_admin;
comment on function hubsync.enable_write_back(text) is
  'Turns write-back on for an enabled object type: local inserts, updates and deletes in its hubspot.<table> '
  'are sent to HubSpot (hubspot_writer may make them)';

create or replace function hubsync.disable_write_back(object_type text) returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects := hubsync._require_object(disable_write_back.object_type);
begin
  if not o.write_back then
    return format('%s: write-back already off', o.object_type);
  end if;
  update hubsync.objects set write_back = false, updated_at = now() where objects.object_type = o.object_type;
  perform hubsync._refresh_write_back(o.object_type);
  return format('%s: write-back off; local changes are no longer sent (queued ones stay in hubsync.outbox)', o.object_type);
end
$$;
revoke all on function hubsync.disable_write_back(text) from public;
grant execute on function hubsync.disable_write_back(text) to hubsync_admin;
comment on function hubsync.disable_write_back(text) is
  'Turns write-back off for an object type: local changes are no longer sent (changes already queued stay in hubsync.outbox)';
