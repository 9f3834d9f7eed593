-- HubSpot's property catalog for analysts: hubspot.properties and hubspot.property_options
-- (migrations; discovery fills them from the properties listing it reads anyway), the labels
-- behind enumeration values, and a hubspot.<table>_labeled view per synced type that shows them.

-- The label HubSpot shows for a value of an enumeration property; null when the property has no
-- such option. A multi-select value ('a;b', as HubSpot sends checkbox values) gives its labels
-- joined the same way ('A;B'), a value without an option keeping its own text.
create or replace function hubsync.label(object_type text, property text, value text) returns text
language sql stable parallel safe
set search_path = pg_catalog, pg_temp
as $$
  select coalesce(
    (select o.label from hubspot.property_options o
      where o.object_type = label.object_type and o.property = label.property and o.value = label.value),
    case when strpos(label.value, ';') > 0 then
      (select string_agg(coalesce(o.label, u.v), ';' order by u.n)
         from unnest(string_to_array(label.value, ';')) with ordinality u(v, n)
         left join hubspot.property_options o
           on o.object_type = label.object_type and o.property = label.property and o.value = u.v)
    end)
$$;
comment on function hubsync.label(text, text, text) is
  'The label HubSpot shows for a value of an enumeration property, e.g. hubsync.label(''contacts'', ''lifecyclestage'', '
  '''marketingqualifiedlead'') = ''Marketing Qualified Lead''; multi-select values (''a;b'') give ''A;B''; null when '
  'the property has no such option (hubspot.property_options lists them)';
revoke all on function hubsync.label(text, text, text) from public;
grant execute on function hubsync.label(text, text, text) to hubspot_reader, hubsync_admin;

-- (Re)creates hubspot.<view_name>: every column of the object's table, its enumeration columns
-- with labels in place of values (a value without an option shows as it is; a multi-select
-- column stays an array, of labels). A column kept from before a type change is named
-- '<property>@<old type>' in hubsync.columns and is labeled from its property's options too.
-- Discovery calls it when the table's columns change. A new
-- column at the end is added in place; a column renamed (a property's type changed) needs the view
-- dropped and created again, which fails when a view of the DBA's depends on it: then the old
-- view stays and a warning says so.
create or replace function hubsync._refresh_labeled_view(object_type text, view_name text) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  o hubsync.objects;
  rel regclass;
  cols text;
  body text;
begin
  select * into o from hubsync.objects where objects.object_type = _refresh_labeled_view.object_type;
  rel := case when o.table_name is not null then to_regclass(format('hubspot.%I', o.table_name)) end;
  if rel is null then return; end if;
  select string_agg(
           case
             when c.pg_type = 'text' then
               format('coalesce((select l.label from hubspot.property_options l where l.object_type = %L and l.property = %L and l.value = t.%I), t.%I) as %I',
                      o.object_type, split_part(c.property_name, '@', 1), a.attname, a.attname, a.attname)
             when c.pg_type = 'text[]' then
               format('(select array_agg(coalesce(l.label, u.v) order by u.n) from unnest(t.%I) with ordinality u(v, n) '
                      'left join hubspot.property_options l on l.object_type = %L and l.property = %L and l.value = u.v) as %I',
                      a.attname, o.object_type, split_part(c.property_name, '@', 1), a.attname)
             else format('t.%I', a.attname)
           end, ', ' order by a.attnum)
    into cols
    from pg_catalog.pg_attribute a
    left join hubsync.columns c
      on c.object_type = o.object_type and c.column_name = a.attname and c.hubspot_type = 'enumeration'
   where a.attrelid = rel and a.attnum > 0 and not a.attisdropped;
  body := format('select %s from %s t', cols, rel);
  begin
    execute format('create or replace view hubspot.%I as %s', view_name, body);
  exception when invalid_table_definition or datatype_mismatch then
    begin
      execute format('drop view hubspot.%I', view_name);
      execute format('create view hubspot.%I as %s', view_name, body);
    exception when dependent_objects_still_exist then
      raise warning 'hubsync: hubspot.% was left as it was: other views depend on it', view_name
        using hint = format('Drop those views; the next discovery of %s (hourly, or select hubsync.enable_sync(%L) again) creates it anew.', o.object_type, o.object_type);
      return;
    end;
  end;
  execute format('comment on view hubspot.%I is %L', view_name,
                 format('hubspot.%s with the labels HubSpot shows in place of the values of its enumeration columns '
                        '(hubspot.property_options); recreated by discovery when the columns change', o.table_name));
  if exists (select from pg_catalog.pg_roles where rolname = 'hubspot_reader') then
    execute format('grant select on hubspot.%I to hubspot_reader', view_name);
  end if;
end
$$;
revoke all on function hubsync._refresh_labeled_view(text, text) from public;
