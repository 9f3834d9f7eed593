-- Write-back: value encoding, waking the push task, and the functions the push task calls to
-- write HubSpot's answers back into hubspot.<table>. The triggers are in 41_push_triggers.sql.
--
-- HubSpot takes every property value as a string: numbers as written, booleans 'true'/'false',
-- dates 'YYYY-MM-DD', datetimes ISO 8601 UTC with milliseconds, multi-selects ';'-joined, and ''
-- to clear a value.

-- A column value (as to_jsonb(row)->column gives it) in HubSpot's string encoding.
create or replace function hubsync._encode_value(v jsonb, pg_type text) returns text
language sql stable parallel safe
set search_path = pg_catalog, pg_temp
as $$
  select case
    when v is null or jsonb_typeof(v) = 'null' then ''
    when jsonb_typeof(v) = 'array' then
      (select coalesce(string_agg(e, ';' order by n), '') from jsonb_array_elements_text(v) with ordinality x(e, n))
    when jsonb_typeof(v) = 'object' then v::text
    when pg_type in ('timestamptz', 'timestamp with time zone') then
      to_char((v #>> '{}')::timestamptz at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    else v #>> '{}'
  end
$$;

-- The other way: a HubSpot string as a json value jsonb_populate_record turns into the column's type
-- ('' clears typed columns; epoch milliseconds are accepted for dates and datetimes).
create or replace function hubsync._decode_value(v text, pg_type text) returns jsonb
language sql stable parallel safe
set search_path = pg_catalog, pg_temp
as $$
  select case
    when v is null then 'null'::jsonb
    when pg_type = 'text' then to_jsonb(v)
    when v = '' then 'null'::jsonb
    when pg_type in ('text[]', '_text') then to_jsonb(string_to_array(v, ';'))
    when pg_type = 'date' and v ~ '^-?[0-9]+$' then to_jsonb((to_timestamp(v::numeric / 1000) at time zone 'UTC')::date)
    when pg_type in ('timestamptz', 'timestamp with time zone') and v ~ '^-?[0-9]+$' then to_jsonb(to_timestamp(v::numeric / 1000))
    else to_jsonb(v)
  end
$$;

-- Object type of an association end from the singular in an association table's column name.
create or replace function hubsync._type_of_singular(singular text) returns text
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select coalesce(
    (select o.object_type from hubsync.objects o where o.singular_name = _type_of_singular.singular limit 1),
    ('{"contact":"contacts","company":"companies","deal":"deals","ticket":"tickets","product":"products",
       "line_item":"line_items","quote":"quotes","call":"calls","email":"emails","meeting":"meetings",
       "note":"notes","task":"tasks","postal_mail":"postal_mail","communication":"communications"}'::jsonb) ->> singular,
    singular)
$$;

-- Wakes the push task of an object type. Without run_at: now, at most once per transaction and type
-- (a 10,000-row UPDATE enqueues one job, not 10,000). job_key_mode 'replace' pulls a job that waits
-- for a backoff forward; the task then only claims rows that are due (backoff lives in the outbox,
-- because re-adding a job key resets graphile-worker's own retry count). The short coalescing
-- window is waited in the task, not with run_at: a job due in the future is only noticed at the
-- worker's next poll (2 s), whereas one due now is started by the LISTEN/NOTIFY nudge.
--
-- While a push job is queued, due and not started, a transaction's changes need no job of their
-- own: that push will claim them. Seeing it costs one index lookup; it writes nothing, locks no
-- row and sends no notification, so a stream of single-row transactions pays almost nothing for
-- it. What keeps the wake-up from being lost is the push wake lock (hubsync._push_wake_barrier):
-- a writer holds it shared from this check to its commit (the check runs as the transaction
-- commits, from a deferred trigger), and the push task takes it exclusively before it claims rows,
-- so the push either sees the change committed or the writer sees the job started and queues
-- another. (Reads graphile-worker 0.18's _private_jobs.) A REPEATABLE READ or SERIALIZABLE
-- transaction sees the job as it was at its start, so it always queues.
create or replace function hubsync._wake_push(object_type text, run_at timestamptz default null) returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  woken text := coalesce(current_setting('hubsync.push_woken', true), '');
begin
  if _wake_push.run_at is null then
    if position(',' || _wake_push.object_type || ',' in woken) > 0 then return; end if;
    perform set_config('hubsync.push_woken', woken || ',' || _wake_push.object_type || ',', true);
    if current_setting('transaction_isolation') = 'read committed' then
      perform pg_advisory_xact_lock_shared(hashtext('hubsync_push_wake'), hashtext(_wake_push.object_type));
      perform from hubsync_worker._private_jobs j
       where j.key = hubsync._job_key('hubsync_push', _wake_push.object_type) and j.is_available and j.run_at <= now();
      if found then return; end if;
    end if;
  end if;
  -- ahead of pulls and sweeps for the next free worker slot (priority -10; lower runs first): a
  -- push is short and someone is waiting for it
  perform hubsync._enqueue('hubsync_push', _wake_push.object_type, run_at := _wake_push.run_at, priority := -10);
end
$$;
revoke all on function hubsync._wake_push(text, timestamptz) from public;

-- Called by the push task of an object type before it claims rows: waits until the transactions
-- that found its job queued (hubsync._wake_push) have committed, so their changes are claimed.
-- It waits without queueing (a queued exclusive lock would hold up every writer behind it): a
-- writer that keeps the lock (SET CONSTRAINTS ALL IMMEDIATE, then a long transaction) gets the
-- push a second job a second later instead, so its change still goes out. Returns false then.
create or replace function hubsync._push_wake_barrier(object_type text) returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  for i in 1..50 loop
    if pg_try_advisory_xact_lock(hashtext('hubsync_push_wake'), hashtext(_push_wake_barrier.object_type)) then
      return true;
    end if;
    perform pg_sleep(0.01);
  end loop;
  perform hubsync._enqueue('hubsync_push', _push_wake_barrier.object_type, run_at := now() + interval '1 second', priority := -10);
  return false;
end
$$;
revoke all on function hubsync._push_wake_barrier(text) from public;

-- A change hubsync refused itself, never sent: a property HubSpot computes or sets itself, written
-- into the properties jsonb column (sql/41_push_triggers.sql). HubSpot would refuse it just the
-- same, so neither a retry nor the row's next change queues it again.
create or replace function hubsync._refused_locally(error_category text, error_status integer) returns boolean
language sql immutable
set search_path = pg_catalog, pg_temp
as $$ select coalesce(error_category = 'READ_ONLY_VALUE' and error_status is null, false) $$;

-- Puts rejected changes back in the queue (after the data or the portal was fixed) and wakes the
-- push task for each object type concerned, except changes hubsync refused itself (read-only
-- properties, never sent). Returns how many outbox rows were re-queued.
create or replace function hubsync.retry_rejected(object_type text default null) returns integer
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  n integer;
  t text;
begin
  update hubsync.outbox ob set status = 'pending', attempts = 0, next_attempt_at = now()
   where ob.status = 'rejected' and not hubsync._refused_locally(ob.error_category, ob.error_status)
     and (retry_rejected.object_type is null or ob.object_type = retry_rejected.object_type);
  get diagnostics n = row_count;
  for t in select distinct ob.object_type from hubsync.outbox ob
            where ob.status = 'pending' and (retry_rejected.object_type is null or ob.object_type = retry_rejected.object_type) loop
    perform hubsync._wake_push(t);
  end loop;
  return n;
end
$$;
revoke all on function hubsync.retry_rejected(text) from public;
grant execute on function hubsync.retry_rejected(text) to hubsync_admin;
comment on function hubsync.retry_rejected(text) is
  'Puts the changes HubSpot rejected (hubsync.outbox status ''rejected'') back in the queue, of one object type or all '
  '(null), and wakes the push; returns how many were re-queued. Call it after fixing the data or the portal.';

-- Writes HubSpot's answer to pushed records back into hubspot.<table>, with echo suppression on.
-- results: [{localId, id, properties: {name: string}, createdAt, updatedAt}]. A property that has
-- a newer local change still waiting keeps its local value (the waiting change is sent next).
-- A row the pull inserted for the same HubSpot record before this answer was committed (the pull
-- saw the new record first) is dropped in favour of the local row.
create or replace function hubsync._push_write_back(object_type text, results jsonb) returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  tbl text;
  c record;
  sets text := '';
  expr text;
  batch jsonb;
  n integer;
begin
  select o.table_name into tbl from hubsync.objects o where o.object_type = _push_write_back.object_type;
  if tbl is null or jsonb_array_length(results) = 0 then return 0; end if;
  perform set_config('hubsync.applying', 'on', true);
  perform set_config('hubsync.pushing', 'on', true);
  -- An answer naming an id merged away since (HubSpot wrote the change before the merge) is stale:
  -- the row already holds the surviving record, and must not take the old id back.
  select jsonb_agg(jsonb_build_object('local_id', r ->> 'localId', 'id', r ->> 'id', 'properties', coalesce(r -> 'properties', '{}'),
                                      'created_at', r ->> 'createdAt', 'updated_at', r ->> 'updatedAt'))
    into batch from jsonb_array_elements(results) r
   where not exists (select from hubsync.merges mm where mm.object_type = _push_write_back.object_type and mm.merged_id = r ->> 'id');
  if batch is null then return 0; end if;
  -- A row the pull inserted for one of these records before this answer was committed goes.
  execute format('delete from hubspot.%I d using jsonb_to_recordset($1) as x(local_id uuid, id text)
                   where d.id = x.id and d._sync_local_id <> x.local_id', tbl) using batch;
  -- One set-based UPDATE for the whole batch: a column is assigned only from records whose answer
  -- carries its property and that have no newer local change of it waiting.
  for c in select col.property_name, col.column_name, col.pg_type from hubsync.columns col
            where col.object_type = _push_write_back.object_type and col.archived_at is null
              and exists (select from jsonb_array_elements(results) r where (r -> 'properties') ? col.property_name) loop
    expr := case
      when c.pg_type = 'text' then format('x.properties ->> %L', c.property_name)
      when c.pg_type in ('text[]', '_text') then format('string_to_array(nullif(x.properties ->> %L, %L), %L)', c.property_name, '', ';')
      else format('(hubsync._decode_value(x.properties ->> %L, %L) #>> %L)::%s', c.property_name, c.pg_type, '{}', c.pg_type)
    end;
    sets := sets || format(', %I = case when x.properties ? %L and not %L = any (x.waiting) then %s else t.%I end',
                           c.column_name, c.property_name, c.property_name, expr, c.column_name);
  end loop;
  execute format(
    'with x as (
       select r.local_id, r.id, r.properties, r.created_at, r.updated_at,
              (select coalesce(array_agg(distinct k), %L) from hubsync.outbox ob, jsonb_object_keys(ob.changes) k
                where ob.local_id = r.local_id and ob.status = %L) as waiting
         from jsonb_to_recordset($1) as r(local_id uuid, id text, properties jsonb, created_at timestamptz, updated_at timestamptz))
     update hubspot.%I as t
        set id = coalesce(x.id, t.id), properties = coalesce(t.properties, %L) || (coalesce(x.properties, %L) - x.waiting),
            created_at = coalesce(x.created_at, t.created_at), updated_at = coalesce(x.updated_at, t.updated_at),
            _sync_error = null, _sync_updated_at = now() %s
       from x where t._sync_local_id = x.local_id', '{}', 'pending', tbl, '{}', '{}', sets)
    using batch;
  get diagnostics n = row_count;
  return n;
end
$$;
revoke all on function hubsync._push_write_back(text, jsonb) from public;

-- Marks a row out of step after HubSpot rejected its change (_sync_error), and with
-- on_reject = 'revert' puts back the values it had before (revert: {property: encoded value}).
create or replace function hubsync._push_mark_rejected(object_type text, local_id uuid, error text, revert jsonb)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  tbl text;
  c record;
  typed jsonb := '{}';
  sets text := '';
  loose jsonb := '{}';
  k text;
begin
  select o.table_name into tbl from hubsync.objects o where o.object_type = _push_mark_rejected.object_type;
  if tbl is null then return; end if;
  perform set_config('hubsync.applying', 'on', true);
  perform set_config('hubsync.pushing', 'on', true);
  if revert is not null then
    for k in select jsonb_object_keys(revert) loop
      select col.column_name, col.pg_type into c from hubsync.columns col
       where col.object_type = _push_mark_rejected.object_type and col.property_name = k;
      if found then
        typed := typed || jsonb_build_object(c.column_name, hubsync._decode_value(revert ->> k, c.pg_type));
        sets := sets || format(', %I = src.%I', c.column_name, c.column_name);
      else
        loose := loose || jsonb_build_object(k, revert -> k);
      end if;
    end loop;
  end if;
  execute format(
    'update hubspot.%I as t set _sync_error = $3, properties = coalesce(t.properties, ''{}'') || $4 %s
       from jsonb_populate_record(null::hubspot.%I, $1) as src
      where t._sync_local_id = $2', tbl, sets, tbl)
    using typed, _push_mark_rejected.local_id, error, loose;
end
$$;
revoke all on function hubsync._push_mark_rejected(text, uuid, text, jsonb) from public;
