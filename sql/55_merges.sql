-- Merges. HubSpot merges two contacts or two companies into a new record with a new id; other
-- types keep the primary's id. Either way every old id then answers with the surviving record,
-- which lists them in hs_merged_object_ids, and HubSpot's batch update no longer accepts them.
--
-- The pull, the webhook apply, the reconciliation and the push (when HubSpot turned an update down
-- because its record had been merged) call hubsync._apply_merges for the records that list other
-- ids, just before they write those records. For each one:
--   * hubsync.merges maps every old id to the surviving id (its trigger in 50_associations.sql
--     moves the association rows, as HubSpot moved the associations);
--   * one local row of the merged records takes the surviving id (the row with local changes
--     waiting, else the first one listed), and the others leave the table. The surviving record's
--     values are then written over that row like any pulled change, so a local change still
--     waiting meets them under the type's conflict policy;
--   * local changes waiting for an old id (updates, deletes, association writes) are re-pointed to
--     the surviving id and the kept row, and are sent there: a merge loses no local edit. A local
--     delete of one of the merged records deletes the surviving record.
-- Returns how many local rows were re-keyed or removed.
create or replace function hubsync._apply_merges(object_type text, merges jsonb) returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  obj text := _apply_merges.object_type;
  tbl text;
  has_local boolean;
  new_id text;
  old_ids text[];
  keeper text;
  keeper_local uuid;
  deleting boolean;
  stale boolean;
  n integer := 0;
  c integer;
begin
  select o.table_name into tbl from hubsync.objects o where o.object_type = obj;
  if tbl is null or to_regclass(format('hubspot.%I', tbl)) is null then return 0; end if;
  has_local := exists (select from pg_catalog.pg_attribute
                        where attrelid = format('hubspot.%I', tbl)::regclass and attname = '_sync_local_id' and not attisdropped);
  for new_id, old_ids in
    select x.id, array(select e from jsonb_array_elements_text(x.merged) e where e <> x.id)
      from jsonb_to_recordset(merges) as x(id text, merged jsonb)
  loop
    continue when cardinality(old_ids) = 0;
    -- A record keeps listing the ids it absorbed: most calls find the merge applied already.
    execute format('select exists (select from hubspot.%I where id = any ($1))', tbl) into stale using old_ids;
    continue when not stale
      and not exists (select from unnest(old_ids) x
                       where not exists (select from hubsync.merges mm where mm.object_type = obj and mm.merged_id = x and mm.winner_id = new_id))
      and not exists (select from hubsync.outbox ob
                       where ob.object_type = obj and ob.status in ('pending', 'in_flight') and ob.record_id = any (old_ids));

    -- hubsync.merges: the old ids, and the ids merged into them before, now lead to the new id.
    update hubsync.merges mm set winner_id = new_id where mm.object_type = obj and mm.winner_id = any (old_ids);
    insert into hubsync.merges as mm (object_type, merged_id, winner_id)
    select obj, x, new_id from unnest(old_ids) x
    on conflict (object_type, merged_id) do update set winner_id = excluded.winner_id, merged_at = now()
      where mm.winner_id is distinct from excluded.winner_id;

    -- Local changes waiting for an old id now go to the new one.
    update hubsync.outbox ob set record_id = new_id
     where ob.object_type = obj and ob.status in ('pending', 'in_flight') and ob.op in ('update', 'archive')
       and ob.record_id = any (old_ids);
    update hubsync.outbox ob set changes = ob.changes
        || case when ob.changes ->> 'fromType' = obj and ob.changes ->> 'from' = any (old_ids) then jsonb_build_object('from', new_id) else '{}' end
        || case when ob.changes ->> 'toType' = obj and ob.changes ->> 'to' = any (old_ids) then jsonb_build_object('to', new_id) else '{}' end
     where ob.status in ('pending', 'in_flight') and ob.op in ('associate', 'unassociate')
       and ((ob.changes ->> 'fromType' = obj and ob.changes ->> 'from' = any (old_ids))
            or (ob.changes ->> 'toType' = obj and ob.changes ->> 'to' = any (old_ids)));

    -- The local rows: one takes the new id, unless a local delete of one of them is on its way.
    deleting := exists (select from hubsync.outbox ob where ob.object_type = obj and ob.record_id = new_id
                          and ob.op = 'archive' and ob.status in ('pending', 'in_flight'));
    keeper := null;
    keeper_local := null;
    execute format('select id from hubspot.%I where id = $1', tbl) into keeper using new_id;
    if keeper is null and not deleting then
      if has_local then
        execute format(
          'select t.id, t._sync_local_id from hubspot.%I t where t.id = any ($1)
            order by exists (select from hubsync.outbox ob where ob.local_id = t._sync_local_id and ob.status in (''pending'', ''in_flight'')) desc,
                     array_position($1, t.id)
            limit 1', tbl) into keeper, keeper_local using old_ids;
      else
        execute format('select t.id from hubspot.%I t where t.id = any ($1) order by array_position($1, t.id) limit 1', tbl)
          into keeper using old_ids;
      end if;
      if keeper is not null then
        execute format('update hubspot.%I set id = $1 where id = $2', tbl) using new_id, keeper;
        n := n + 1;
      end if;
    end if;
    execute format('delete from hubspot.%I where id = any ($1) or ($2 and id = $3)', tbl) using old_ids, deleting, new_id;
    get diagnostics c = row_count;
    n := n + c;
    if has_local and not deleting then
      execute format('select _sync_local_id from hubspot.%I where id = $1', tbl) into keeper_local using new_id;
      -- The removed rows' waiting changes belong to the kept row now (folded and written back with it).
      update hubsync.outbox ob set local_id = keeper_local
       where ob.object_type = obj and ob.status in ('pending', 'in_flight') and ob.op in ('update', 'archive')
         and ob.record_id = new_id and ob.local_id is distinct from keeper_local and keeper_local is not null;
    end if;
  end loop;
  return n;
end
$$;

revoke all on function hubsync._apply_merges(text, jsonb) from public;
