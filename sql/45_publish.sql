-- Publications: a table's or view's rows kept in HubSpot records ("reverse ETL" inside Postgres).
--
--   select hubsync.publish('lead_scores', 'analytics.lead_scores', 'contacts', 'email', 'upsert');
--
-- A run (hubsync._publish_run, from the hubsync_publish task) reads the source, encodes each row's
-- mapped columns as HubSpot's strings, and compares a hash of them with the one kept per source
-- key in hubsync.publish_state: only new and changed rows are queued, into the same outbox as
-- write-back (hubsync.outbox.publication names the publication). The push of the object type
-- sends them with write-back's changes in queue order, one push per type at a time, and settles
-- them the same way (sent, or rejected with HubSpot's reason). A rejected row goes again once its
-- source row changes (its hash changes). A run that finds nothing changed queues nothing, so it
-- costs no HubSpot call.
--
-- Records that come back through a pull never trigger a re-send: the hash is of the source's values,
-- and a pull writes hubspot.* tables only, with the worker's echo suppression on.

-- The properties HubSpot knows of an object type, from hubsync.property_catalog: the live rows of
-- the hubspot.properties catalog discovery keeps, in the shape the checks below read.
-- Match keys must be properties whose values identify one record: HubSpot's batch upsert and
-- lookups by idProperty take a unique-value property (hasUniqueValue), or email for contacts.
-- Unique-value properties exist on contacts, companies, deals, tickets and custom objects only.
-- Company domains are not unique in HubSpot (two companies may share one): publications matched
-- on domain find the records with a search and create missing ones keyed by hubsync_local_id.

create or replace view hubsync.property_catalog as
select p.object_type, p.name, p.type, p.field_type, p.read_only, p.has_unique_value as unique_value,
       case when p.type = 'enumeration'
            then coalesce((select array_agg(o.value order by o.display_order nulls last, o.value) from hubspot.property_options o
                            where o.object_type = p.object_type and o.property = p.name), '{}')
       end as options
  from hubspot.properties p
 where not p.archived;
comment on view hubsync.property_catalog is
  'Every property HubSpot lists for each discovered object type (type, read-only, unique value, enumeration options): '
  'what hubsync.publish checks match keys against and hubsync.plan checks values against, without asking HubSpot. '
  'Read from hubspot.properties and hubspot.property_options';

-- The outbox local_id of a publication's source key: the same for every run, so the push's claim
-- folds a key's queued changes together and a create retried after a crash is the same upsert.
create or replace function hubsync._publish_local_id(publication text, key text) returns uuid
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$ select md5(_publish_local_id.publication || chr(31) || _publish_local_id.key)::uuid $$;

-- Why HubSpot would refuse a value for a property, by its definition in hubsync.property_catalog
-- (null: nothing). The rules HubSpot applies to every write: the property exists and is writable,
-- numbers, booleans and dates parse, an enumeration value is one of its options. '' clears a value.
create or replace function hubsync._property_problem(object_type text, property text, value text) returns text
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  d hubsync.property_catalog;
  bad text;
begin
  select * into d from hubsync.property_catalog c where c.object_type = _property_problem.object_type and c.name = _property_problem.property;
  if not found then return format('PROPERTY_DOESNT_EXIST: Property "%s" does not exist', property); end if;
  if d.read_only then return format('READ_ONLY_VALUE: "%s" is a read only property; its value cannot be set.', property); end if;
  if value is null or value = '' then return null; end if;
  case d.type
    when 'number' then
      if btrim(value) !~ '^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$' then return format('INVALID_NUMBER: %s was not a valid number.', value); end if;
    when 'bool' then
      if lower(btrim(value)) not in ('true', 'false') then return format('INVALID_BOOLEAN: %s was not a valid boolean (true/false).', value); end if;
    when 'date' then
      if btrim(value) !~ '^(-?[0-9]+|[0-9]{4}-[0-9]{2}-[0-9]{2}(T00:00(:00(\.0+)?)?Z?)?)$' then
        return format('INVALID_DATE: %s was not a valid date (YYYY-MM-DD or epoch milliseconds at midnight UTC).', value);
      end if;
    when 'datetime' then
      if btrim(value) !~ '^(-?[0-9]+|[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9:]+)?)?)$' then
        return format('INVALID_DATE: %s was not a valid date/time (ISO 8601 or epoch milliseconds).', value);
      end if;
    when 'enumeration' then
      if cardinality(coalesce(d.options, '{}')) > 0 then
        select v into bad
          from unnest(case when d.field_type = 'checkbox' then string_to_array(ltrim(value, ';'), ';') else array[value] end) v
         where v <> '' and v <> all (d.options) limit 1;
        if bad is not null then
          return format('INVALID_OPTION: %s was not one of the allowed options: [%s]', bad, array_to_string(d.options, ', '));
        end if;
      end if;
    else
      null;
  end case;
  return null;
end
$$;
revoke all on function hubsync._property_problem(text, text, text) from public;

-- The SELECT giving a publication's source rows as (key, props, hash): key the match key's value as
-- text, props the mapped columns as HubSpot's strings ('' for null) keyed by property name, hash
-- what a run compares with hubsync.publish_state. One row per key (a view may repeat one).
create or replace function hubsync._publish_source_sql(p hubsync.publication_config) returns text
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  pairs text[] := '{}';
  c record;
  enc text;
begin
  for c in select m.key as col, m.value #>> '{}' as prop, format_type(a.atttypid, a.atttypmod) as pg_type
             from jsonb_each(p.properties) m
             join pg_catalog.pg_attribute a on a.attrelid = p.source and a.attname = m.key and a.attnum > 0 and not a.attisdropped
            where not (m.value #>> '{}' = 'hs_object_id')
            order by m.key loop
    -- scalars are HubSpot's strings as PostgreSQL prints them; the rest as write-back encodes them
    enc := case
      when c.pg_type in ('text', 'character varying', 'numeric', 'integer', 'bigint', 'smallint', 'boolean', 'uuid')
        or c.pg_type like 'character varying(%' or c.pg_type like 'numeric(%' then format('coalesce(t.%I::text, %L)', c.col, '')
      when c.pg_type = 'date' then format('coalesce(to_char(t.%I, %L), %L)', c.col, 'YYYY-MM-DD', '')
      else format('hubsync._encode_value(to_jsonb(t.%I), %L)', c.col, c.pg_type)
    end;
    pairs := pairs || format('%L, %s', c.prop, enc);
  end loop;
  -- keys compare byte-wise ("C"): sorting and joining 100,000 keys under a locale costs seconds
  return format('select distinct on (s.key) s.key, s.props, md5(s.props::text) as hash
                    from (select nullif(btrim(t.%I::text), %L) collate "C" as key, %s as props from %s t) s
                   where s.key is not null order by s.key',
                p.key_column, '', hubsync._jsonb_object_expr(pairs), p.source);
end
$$;
revoke all on function hubsync._publish_source_sql(hubsync.publication_config) from public;

-- Wakes a publication's run after a transaction wrote to its source table (a statement trigger,
-- once per transaction and publication).
create or replace function hubsync._tg_publish_wake() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  woken text := coalesce(current_setting('hubsync.publish_woken', true), '');
  n text := tg_argv[0];
begin
  if position(chr(1) || n || chr(1) in woken) > 0 then return null; end if;
  perform set_config('hubsync.publish_woken', woken || chr(1) || n || chr(1), true);
  perform hubsync._enqueue('hubsync_publish', n);
  return null;
end
$$;
revoke all on function hubsync._tg_publish_wake() from public;

-- The statement trigger's name on a publication's source table.
create or replace function hubsync._publish_trigger_name(name text) returns text
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$ select 'hubsync_publish_' || left(md5(name), 16) $$;

-- Sets up (or changes) a publication. See the COMMENT ON below.
create or replace function hubsync.publish(name text, source regclass, object_type text, match_on text, mode text,
                                           properties jsonb default null, schedule text default null, mirror_clear text default null)
returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_variable
declare
  n text := btrim(publish.name);
  t text := publish.object_type;
  relkind "char";
  mapping jsonb := '{}';
  col record;
  key_col text;
  prop text;
  problem text;
  previous hubsync.publication_config;
  unique_types text[] := array['contacts', 'companies', 'deals', 'tickets'];
  catalog_known boolean;
  existed boolean;
begin
  if n is null or n = '' then
    raise exception using errcode = '22023', message = 'hubsync: a publication needs a name',
      hint = 'Pass a short name such as ''lead_scores''; hubsync.unpublish(name) and hubsync.plan(name) use it.';
  end if;
  if publish.source is null then
    raise exception using errcode = '22023', message = format('hubsync: publication %s needs a source table or view', n),
      hint = 'Pass the table or view, e.g. ''analytics.lead_scores''::regclass.';
  end if;
  select c.relkind into relkind from pg_catalog.pg_class c where c.oid = publish.source;
  if relkind not in ('r', 'p', 'v', 'm', 'f') then
    raise exception using errcode = '22023', message = format('hubsync: %s is not a table or view', publish.source),
      hint = 'Publish a table, a view or a materialized view.';
  end if;
  if publish.mode is null or publish.mode not in ('update', 'upsert', 'create_only', 'mirror') then
    raise exception using errcode = '22023', message = format('hubsync: unknown publication mode %L', publish.mode),
      hint = '''update'' changes existing records only, ''upsert'' creates missing ones too, ''create_only'' creates missing ones and leaves existing ones alone, '
             '''mirror'' upserts and archives (or clears mirror_clear on) records whose rows left the source.';
  end if;
  if hubsync._object_kind(t) <> 'crm' then
    raise exception using errcode = '22023', message = format('hubsync: %s cannot be published to', t),
      hint = 'Publish to a CRM object type such as ''contacts'' or ''companies''.';
  end if;
  catalog_known := exists (select from hubsync.property_catalog c where c.object_type = t);
  if not catalog_known then
    raise exception using errcode = '22023', message = format('hubsync: hubsync knows no properties of %s yet', t),
      hint = format('Publications are checked against the properties discovery reads from HubSpot: run select hubsync.enable_sync(%L) '
                    'and wait until hubsync.status shows %s past discovering, then publish again.', t, t);
  end if;

  -- match key
  if publish.match_on is null or btrim(publish.match_on) = '' then
    raise exception using errcode = '22023', message = format('hubsync: publication %s needs match_on', n),
      hint = format('The HubSpot property that identifies a record: hs_object_id, %s, or a unique-value property of %s.',
                    case t when 'contacts' then 'email' when 'companies' then 'domain' else 'hs_object_id' end, t);
  end if;
  if publish.match_on = 'hs_object_id' then
    if publish.mode in ('upsert', 'create_only') then
      raise exception using errcode = '22023', message = format('hubsync: mode %s cannot match on hs_object_id', publish.mode),
        hint = 'HubSpot gives new records ids of its own, so rows keyed by record id can only update: use mode ''update'' or ''mirror'', '
               'or match on email, domain or a unique-value property to create records.';
    end if;
  elsif not ((t = 'contacts' and publish.match_on = 'email') or (t = 'companies' and publish.match_on = 'domain')
             or exists (select from hubsync.property_catalog c where c.object_type = t and c.name = publish.match_on and c.unique_value)) then
    raise exception using errcode = '22023',
      message = format('hubsync: %s cannot identify %s records', publish.match_on, t),
      hint = case
        when not exists (select from hubsync.property_catalog c where c.object_type = t and c.name = publish.match_on)
          then format('%s has no property %L. ', t, publish.match_on) else '' end
        || case
        when t = any (unique_types) or t <> all (hubsync.standard_object_types())
          then format('Match on hs_object_id%s, or a property created with "hasUniqueValue": true (HubSpot upserts by unique values only); '
                      'the unique properties of %s are: %s.',
                      case t when 'contacts' then ', email' when 'companies' then ', domain' else '' end, t,
                      coalesce((select string_agg(c.name, ', ' order by c.name) from hubsync.property_catalog c where c.object_type = t and c.unique_value), 'none'))
        else format('HubSpot allows unique-value properties on contacts, companies, deals, tickets and custom objects only: '
                    'match %s on hs_object_id (modes update and mirror).', t) end;
  end if;

  -- column -> property map (default: every column, same name)
  if publish.properties is not null and jsonb_typeof(publish.properties) <> 'object' then
    raise exception using errcode = '22023', message = 'hubsync: properties must be a json object of column -> HubSpot property',
      hint = 'e.g. ''{"email": "email", "score": "lead_score"}''::jsonb';
  end if;
  for col in select a.attname::text as name from pg_catalog.pg_attribute a
              where a.attrelid = publish.source and a.attnum > 0 and not a.attisdropped order by a.attnum loop
    if publish.properties is null then
      mapping := mapping || jsonb_build_object(col.name, col.name);
    elsif publish.properties ? col.name and jsonb_typeof(publish.properties -> col.name) = 'string' then
      mapping := mapping || jsonb_build_object(col.name, publish.properties ->> col.name);
    end if;
  end loop;
  if publish.properties is not null then
    select k into prop from jsonb_object_keys(publish.properties) k where not mapping ? k limit 1;
    if prop is not null then
      raise exception using errcode = '22023', message = format('hubsync: %s has no column %L', publish.source, prop),
        hint = format('properties maps the source''s columns to HubSpot properties; its columns are: %s.',
                      (select string_agg(quote_ident(a.attname), ', ' order by a.attnum) from pg_catalog.pg_attribute a
                        where a.attrelid = publish.source and a.attnum > 0 and not a.attisdropped));
    end if;
  end if;
  select m.key into key_col from jsonb_each_text(mapping) m where m.value = publish.match_on limit 1;
  if key_col is null then
    raise exception using errcode = '22023', message = format('hubsync: no column of %s is published as %s, the match key', publish.source, publish.match_on),
      hint = format('Name a column %I, or map one to it: properties => ''{"<column>": "%s", ...}''.', publish.match_on, publish.match_on);
  end if;
  for col in select m.key as name, m.value as property from jsonb_each_text(mapping) m order by m.key loop
    continue when col.property = 'hs_object_id' and publish.match_on = 'hs_object_id';
    problem := hubsync._property_problem(t, col.property, null);
    if problem is not null then
      raise exception using errcode = '22023',
        message = format('hubsync: column %I cannot be published as %s.%s: %s', col.name, t, col.property, problem),
        hint = case when problem like 'PROPERTY_DOESNT_EXIST%'
                    then format('Create the property in HubSpot first (hubsync reads the property list when it discovers %s: call hubsync.enable_sync again), '
                                'map the column to an existing property with properties => ''{"%s": "<property>"}'', or leave it out by listing only the columns to publish.', t, col.name)
                    else 'HubSpot computes this property itself; leave the column out by listing the columns to publish in properties.' end;
    end if;
  end loop;

  if publish.mirror_clear is not null then
    if publish.mode <> 'mirror' then
      raise exception using errcode = '22023', message = 'hubsync: mirror_clear is for mode ''mirror''',
        hint = 'mirror_clear names the property cleared on records whose rows left the source; other modes leave such records alone.';
    end if;
    problem := hubsync._property_problem(t, publish.mirror_clear, null);
    if problem is not null then
      raise exception using errcode = '22023', message = format('hubsync: mirror_clear %s: %s', publish.mirror_clear, problem),
        hint = 'Name a writable property of the object type, or pass null to archive the records instead.';
    end if;
  end if;
  if publish.schedule is not null and btrim(publish.schedule) !~ '^\S+\s+\S+\s+\S+\s+\S+\s+\S+$' then
    raise exception using errcode = '22023', message = format('hubsync: %L is not a crontab expression', publish.schedule),
      hint = 'Five fields, minute hour day-of-month month day-of-week, in UTC: e.g. ''*/15 * * * *''; null runs after each commit to a table, every minute for a view.';
  end if;

  select * into previous from hubsync.publication_config p where p.name = n;
  existed := found;
  if existed and (previous.source <> publish.source or previous.object_type <> t or previous.match_on <> publish.match_on) then
    -- another source or target: what was kept describes other records
    delete from hubsync.publish_state s where s.publication = n;
  end if;
  if existed then
    execute format('drop trigger if exists %I on %s', hubsync._publish_trigger_name(n), previous.source);
  end if;
  insert into hubsync.publication_config (name, source, object_type, match_on, key_column, mode, properties, schedule, mirror_clear)
  values (n, publish.source, t, publish.match_on, key_col, publish.mode, mapping, nullif(btrim(publish.schedule), ''), publish.mirror_clear)
  on conflict on constraint publication_config_pkey do update
    set source = excluded.source, object_type = excluded.object_type, match_on = excluded.match_on, key_column = excluded.key_column,
        mode = excluded.mode, properties = excluded.properties, schedule = excluded.schedule, mirror_clear = excluded.mirror_clear,
        last_error = null, last_error_at = null;
  -- a changed mapping or mode: every row is sent again once
  if existed and (previous.properties <> mapping or previous.mode <> publish.mode) then
    update hubsync.publish_state s set hash = null where s.publication = n;
  end if;
  if publish.schedule is null and relkind in ('r', 'p') then
    execute format('create trigger %I after insert or update or delete or truncate on %s for each statement '
                   'execute function hubsync._tg_publish_wake(%L)', hubsync._publish_trigger_name(n), publish.source, n);
  end if;
  perform hubsync._enqueue('hubsync_publish', n);
  return format('publishing %s to %s (%s, matched on %s): %s; %s', publish.source, t, publish.mode, publish.match_on,
                (select string_agg(format('%s -> %s', m.key, m.value), ', ' order by m.key) from jsonb_each_text(mapping) m),
                case when publish.schedule is not null then format('runs on the schedule %s', publish.schedule)
                     when relkind in ('r', 'p') then 'runs after each commit to the table'
                     else 'runs every minute' end);
end
$$;
revoke all on function hubsync.publish(text, regclass, text, text, text, jsonb, text, text) from public;
grant execute on function hubsync.publish(text, regclass, text, text, text, jsonb, text, text) to hubsync_admin;
comment on function hubsync.publish(text, regclass, text, text, text, jsonb, text, text) is
  'Keeps a table''s or view''s rows in HubSpot records. match_on: the property identifying a record (hs_object_id, email for contacts, '
  'domain for companies, or a unique-value property), taken from the column of that name or mapped to it. mode: update (existing records only), '
  'upsert, create_only, or mirror (upsert, and records whose rows left the source are archived, or get mirror_clear cleared). '
  'properties: {"column": "property"} (default: every column, same name). schedule: a crontab expression (UTC); default: after each '
  'commit to a table, every minute for a view. Only new and changed rows are sent; see hubsync.publications and hubsync.plan(name).';

create or replace function hubsync.unpublish(name text) returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  p hubsync.publication_config;
begin
  select * into p from hubsync.publication_config x where x.name = unpublish.name;
  if not found then return false; end if;
  execute format('drop trigger if exists %I on %s', hubsync._publish_trigger_name(p.name), p.source);
  -- queued changes not yet taken by a push are dropped (one being sent finishes), rejections settled
  update hubsync.outbox ob set status = 'superseded' where ob.publication = p.name and ob.status in ('pending', 'rejected');
  delete from hubsync.publication_config x where x.name = p.name;
  perform hubsync_worker.remove_job(hubsync._job_key('hubsync_publish', p.name));
  return true;
end
$$;
revoke all on function hubsync.unpublish(text) from public;
grant execute on function hubsync.unpublish(text) to hubsync_admin;
comment on function hubsync.unpublish(text) is
  'Stops a publication: its trigger, queued changes not yet being sent and its state go; records already in HubSpot stay as they are. '
  'Returns false if there was no such publication.';

-- One run of a publication: queues the source rows whose values changed since they were last
-- queued (and, in mirror mode, the records whose rows left the source) in one transaction, and
-- wakes the push. Called by the hubsync_publish task; returns what it did.
create or replace function hubsync._publish_run(name text) returns jsonb
language plpgsql security definer
set search_path = pg_catalog, pg_temp
-- a run's estimates are far off (the source is a view or table of any size): JIT compiling its plan
-- costs more than running it, a merge join sorts both sides where hashing one is cheaper, and
-- 100,000 keys should not spill to disk
set jit = off
set enable_mergejoin = off
set work_mem = '64MB'
as $$
declare
  p hubsync.publication_config;
  queued integer := 0;
  leaving integer := 0;
  dropped integer := 0;
  total integer := 0;
begin
  perform pg_advisory_xact_lock(hashtext('hubsync_publish'), hashtext(_publish_run.name));
  select * into p from hubsync.publication_config x where x.name = _publish_run.name;
  if not found then return null; end if;
  -- the outbox's wake-up, once for the run (below), not once per queued row
  perform set_config('hubsync.wake_queued', coalesce(current_setting('hubsync.wake_queued', true), '') || ',' || p.object_type || ',', true);
  -- One statement: the source is read once, and its rows are compared with the kept hashes by
  -- hash joins (an unchanged run writes nothing).
  execute format($q$
    with src as materialized (%s),
    st as materialized (
      select x.key collate "C" as key, x.hash, x.status, x.record_id, x.local_id from hubsync.publish_state x where x.publication = $1),
    changed as (
      select s.key, s.props, s.hash, st.record_id, hubsync._publish_local_id($1, s.key) as local_id
        from src s left join st on st.key = s.key
       where st.hash is distinct from s.hash),
    gone as (
      select st.* from st where not exists (select from src s where s.key = st.key)),
    -- mirror: records matched earlier whose rows left are archived, or get mirror_clear cleared
    leaving as (
      select g.* from gone g where $3 = 'mirror' and g.status in ('sent', 'exists') and g.record_id is not null),
    queued_rows as (
      insert into hubsync.outbox (object_type, record_id, local_id, op, changes, publication)
      select $2, c.record_id, c.local_id, 'update', c.props, $1 from changed c
      union all
      select $2, l.record_id, l.local_id, case when $4::text is null then 'archive' else 'update' end,
             case when $4::text is null then '{}'::jsonb else jsonb_build_object($4::text, '') end, $1
        from leaving l
      returning 1),
    -- a key's earlier rejection is settled by its new values (hubsync.status stops counting it)
    resolved as (
      update hubsync.outbox ob set status = 'superseded' from changed c
       where ob.local_id = c.local_id and ob.status = 'rejected' and ob.publication is not null
      returning 1),
    state_rows as (
      insert into hubsync.publish_state as x (publication, key, local_id, hash, status)
      select $1, c.key, c.local_id, c.hash, 'pending' from changed c
      on conflict (publication, key) do update set hash = excluded.hash, status = 'pending', error = null, updated_at = now()
      returning 1),
    leaving_rows as (
      update hubsync.publish_state x set status = 'leaving', hash = null, error = null, updated_at = now()
        from leaving l where x.publication = $1 and x.key = l.key
      returning 1),
    -- other rows gone from the source are forgotten (sent again if they come back)
    forgotten as (
      delete from hubsync.publish_state x using gone g
       where x.publication = $1 and x.key = g.key and x.status <> 'leaving' and not exists (select from leaving l where l.key = g.key)
      returning x.local_id),
    dropped as (
      update hubsync.outbox ob set status = 'superseded' from forgotten f where ob.local_id = f.local_id and ob.status in ('pending', 'rejected')
      returning 1)
    select (select count(*) from src)::int, (select count(*) from state_rows)::int, (select count(*) from leaving_rows)::int,
           (select count(*) from dropped)::int
    $q$, hubsync._publish_source_sql(p))
  into total, queued, leaving, dropped
  using p.name, p.object_type, p.mode, p.mirror_clear;

  update hubsync.publication_config x set last_run_at = now(), last_run_queued = queued + leaving, last_error = null, last_error_at = null
   where x.name = p.name;
  -- A run can add more rows to the outbox than the planner thinks it holds; without fresh figures
  -- the push's claims pick nested loops over it (seconds per claim instead of milliseconds).
  if queued + leaving >= 1000 then
    analyze hubsync.outbox;
    analyze hubsync.publish_state;
  end if;
  if queued + leaving > 0 then perform hubsync._wake_push(p.object_type); end if;
  return jsonb_build_object('rows', total, 'queued', queued, 'leaving', leaving, 'unchanged', total - queued);
end
$$;
revoke all on function hubsync._publish_run(text) from public;

-- What a run would do now, sending nothing: per source row with new or changed values (and, in
-- mirror mode, per record whose row left), the action and the values HubSpot would refuse by its
-- property rules.
create or replace function hubsync.plan(name text)
returns table (action text, key text, record_id text, changes jsonb, problems text[])
language plpgsql security definer
set search_path = pg_catalog, pg_temp
-- as hubsync._publish_run, for the same reasons
set jit = off
set enable_mergejoin = off
set work_mem = '64MB'
as $$
declare
  p hubsync.publication_config;
  local_table regclass;
  match_col text;
begin
  select * into p from hubsync.publication_config x where x.name = plan.name;
  if not found then
    raise exception using errcode = '22023', message = format('hubsync: no publication named %L', plan.name),
      hint = coalesce('Publications: ' || (select string_agg(x.name, ', ' order by x.name) from hubsync.publication_config x) || '.',
                      'Create one with hubsync.publish().');
  end if;
  -- records pulled into hubspot.<table> tell a create from an update before HubSpot is asked
  select to_regclass(format('hubspot.%I', o.table_name)) into local_table from hubsync.objects o where o.object_type = p.object_type;
  select c.column_name into match_col from hubsync.columns c
   where c.object_type = p.object_type and c.property_name = p.match_on and c.archived_at is null;
  if p.match_on = 'hs_object_id' then match_col := 'id'; end if;
  return query execute format(
    $q$
    with src as (%s),
    changed as (
      select s.key, s.props, coalesce(st.record_id, l.id) as record_id
        from src s left join hubsync.publish_state st on st.publication = $1 and st.key collate "C" = s.key
        left join (%s) l on l.k = s.key
       where st.hash is distinct from s.hash)
    select case when c.record_id is not null or $2 = 'update' then 'update' else 'create' end,
           c.key, c.record_id, c.props,
           (select array_agg(format('%%s = %%s: %%s', k.key, to_jsonb(k.value), pr) order by k.key)
              from jsonb_each_text(c.props) k, lateral hubsync._property_problem($3, k.key, k.value) pr
             where pr is not null and k.key <> $4)
      from changed c
    union all
    select case when $5 is null then 'archive' else 'clear ' || $5 end, st.key, st.record_id,
           case when $5 is null then '{}'::jsonb else jsonb_build_object($5, '') end, null
      from hubsync.publish_state st
     where $2 = 'mirror' and st.publication = $1 and st.status in ('sent', 'exists') and st.record_id is not null
       and not exists (select from src s where s.key = st.key collate "C")
    order by 1, 2
    $q$,
    hubsync._publish_source_sql(p),
    case when local_table is not null and match_col is not null
         then format('select distinct on (x.%I::text) x.%I::text collate "C" as k, x.id::text as id from %s x where x.id is not null', match_col, match_col, local_table)
         else 'select null::text as k, null::text as id where false' end)
  using p.name, p.mode, p.object_type, case when p.match_on = 'hs_object_id' then '' else p.match_on end, p.mirror_clear;
end
$$;
revoke all on function hubsync.plan(text) from public;
grant execute on function hubsync.plan(text) to hubsync_admin;
comment on function hubsync.plan(text) is
  'What the next run of a publication would send, sending nothing: one row per create, update, archive or clear, with the values and, '
  'in problems, what HubSpot would refuse by its property rules (unknown or read-only property, invalid option, number, boolean or date). '
  'Creates and updates are told apart by the records hubsync pulled (hubspot.<table>) and sent before; `hubsync publish --dry-run NAME` prints it.';

-- The publications, their last run and their rows by outcome.
create or replace view hubsync.publications as
select p.name,
       p.source,
       p.object_type,
       p.match_on,
       p.mode,
       coalesce(p.schedule, case when c.relkind in ('r', 'p') then 'after each commit' else 'every minute' end) as schedule,
       p.last_run_at,
       p.last_run_queued,
       count(s.key) filter (where s.status in ('sent', 'exists')) as rows_sent,
       count(s.key) filter (where s.status = 'rejected') as rows_rejected,
       count(s.key) filter (where s.status = 'unmatched') as rows_unmatched,
       count(s.key) filter (where s.status in ('pending', 'leaving')) as rows_pending,
       p.last_error,
       p.last_error_at
  from hubsync.publication_config p
  left join pg_catalog.pg_class c on c.oid = p.source
  left join hubsync.publish_state s on s.publication = p.name
 group by p.name, c.relkind;
comment on view hubsync.publications is
  'Each publication (hubsync.publish): source, target, schedule, last run and rows queued by it, and its source rows by outcome: '
  'sent (or found existing by create_only), rejected by HubSpot (hubsync.publish_state.error says why; retried once the row changes), '
  'unmatched (mode update found no record), pending (queued, not yet answered)';
grant select on hubsync.publications to hubsync_admin;
