-- Associations: keeping hubspot.associations_<a>_<b> in step with the object tables. The tables
-- themselves and their rows come from the worker (src/core/associations/); hubsync.association_pairs
-- (migrations) lists them, and hubsync.association_status (sql/20_status.sql) shows them.

-- Removes the association rows that have one of `ids` (records of object_type) at either end.
-- HubSpot drops the associations of a record that is archived, deleted or merged away by itself,
-- so these deletes are marked as the sync's own (no unassociate is pushed for them), and the
-- caller's own setting is put back afterwards.
create or replace function hubsync._association_delete_rows(object_type text, ids text[]) returns integer
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  p hubsync.association_pairs;
  prev text := current_setting('hubsync.applying', true);
  n integer := 0;
  c integer;
begin
  if ids is null or cardinality(ids) = 0 then return 0; end if;
  perform set_config('hubsync.applying', 'on', true);
  for p in select * from hubsync.association_pairs ap
            where _association_delete_rows.object_type in (ap.a_type, ap.b_type) loop
    continue when to_regclass(format('hubspot.%I', p.table_name)) is null;
    execute format('delete from hubspot.%I where %I = any($1) or %I = any($1)',
                   p.table_name,
                   case when p.a_type = _association_delete_rows.object_type then p.a_column else p.b_column end,
                   case when p.b_type = _association_delete_rows.object_type then p.b_column else p.a_column end)
      using ids;
    get diagnostics c = row_count;
    n := n + c;
  end loop;
  perform set_config('hubsync.applying', coalesce(prev, ''), true);
  return n;
end
$$;
revoke all on function hubsync._association_delete_rows(text, text[]) from public;

-- Statement trigger on hubspot.<object> (after delete, old rows as `gone`): one delete per
-- association table however many records a pull or an archive pass removed.
create or replace function hubsync._tg_association_deleted() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform hubsync._association_delete_rows(tg_argv[0], array(select g.id from gone g where g.id is not null));
  return null;
end
$$;
revoke all on function hubsync._tg_association_deleted() from public;

-- Row trigger on hubspot.<object> for on_archive = 'mark': the row stays, its associations go
-- (HubSpot hides an archived record's associations; a restore brings them back at the next sweep).
create or replace function hubsync._tg_association_archived() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform hubsync._association_delete_rows(tg_argv[0], array[new.id]);
  return null;
end
$$;
revoke all on function hubsync._tg_association_archived() from public;

-- Installs the two triggers above on an object's table (idempotent). DDL only when a trigger is
-- missing: CREATE TRIGGER waits for every open write on the table (a backfill page), so it is never
-- run needlessly, and the worker calls it in a transaction of its own, holding no other lock.
create or replace function hubsync._association_install_triggers(object_type text) returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  rel regclass;
begin
  select to_regclass(format('hubspot.%I', o.table_name)) into rel
    from hubsync.objects o where o.object_type = _association_install_triggers.object_type and o.table_name is not null;
  if rel is null then return; end if;
  if not exists (select 1 from pg_catalog.pg_trigger t where t.tgrelid = rel and t.tgname = 'hubsync_associations_deleted') then
    execute format('create or replace trigger hubsync_associations_deleted after delete on %s '
                   'referencing old table as gone for each statement '
                   'execute function hubsync._tg_association_deleted(%L)', rel, object_type);
  end if;
  if not exists (select 1 from pg_catalog.pg_trigger t where t.tgrelid = rel and t.tgname = 'hubsync_associations_archived') then
    execute format('create or replace trigger hubsync_associations_archived after update of archived_at on %s for each row '
                   'when (old.archived_at is null and new.archived_at is not null and new.id is not null) '
                   'execute function hubsync._tg_association_archived(%L)', rel, object_type);
  end if;
end
$$;
revoke all on function hubsync._association_install_triggers(text) from public;

-- A merge (hubsync.merges, filled by the pull from hs_merged_object_ids) moves the merged-away
-- record's association rows to the surviving record, as HubSpot does: type ids and labels of a
-- pair both records had are united. The next sweep settles what HubSpot decided in detail (e.g.
-- which of two primaries stays).
create or replace function hubsync._tg_association_merge() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  p hubsync.association_pairs;
  prev text := current_setting('hubsync.applying', true);
  ends text[];
  e text;
  other text;
begin
  if new.merged_id = new.winner_id then return null; end if;
  perform set_config('hubsync.applying', 'on', true);
  for p in select * from hubsync.association_pairs ap where new.object_type in (ap.a_type, ap.b_type) loop
    continue when to_regclass(format('hubspot.%I', p.table_name)) is null;
    ends := case when p.a_type = p.b_type then array[p.a_column, p.b_column]
                 when p.a_type = new.object_type then array[p.a_column] else array[p.b_column] end;
    foreach e in array ends loop
      other := case when e = p.a_column then p.b_column else p.a_column end;
      execute format(
        'insert into hubspot.%1$I as t (%2$I, %3$I, labels, type_ids)
         select $2, %3$I, labels, type_ids from hubspot.%1$I where %2$I = $1 and not ($3 and %3$I = $2)
         on conflict (%4$I, %5$I) do update
           set labels = array(select distinct x from unnest(t.labels || excluded.labels) x order by x),
               type_ids = array(select distinct x from unnest(t.type_ids || excluded.type_ids) x order by x)',
        p.table_name, e, other, p.a_column, p.b_column)
        using new.merged_id, new.winner_id, p.a_type = p.b_type;
      execute format('delete from hubspot.%I where %I = $1', p.table_name, e) using new.merged_id;
    end loop;
  end loop;
  perform set_config('hubsync.applying', coalesce(prev, ''), true);
  return null;
end
$$;
revoke all on function hubsync._tg_association_merge() from public;

create or replace trigger hubsync_associations_merge after insert or update of winner_id on hubsync.merges
  for each row execute function hubsync._tg_association_merge();

-- When an object type is discovered or its backfill is done, its association tables are created
-- and filled (once the other end is live too) by the worker task hubsync_backfill_associations;
-- disabling the type takes a job still waiting back.
create or replace function hubsync._tg_association_phase() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if new.enabled and new.phase in ('backfilling', 'live') then
    perform hubsync_worker.add_job('hubsync_backfill_associations', json_build_object('objectType', new.object_type),
                                   queue_name := 'hubsync:associations',
                                   job_key := 'hubsync_backfill_associations:' || new.object_type);
  else
    perform hubsync_worker.remove_job('hubsync_backfill_associations:' || new.object_type);
  end if;
  return null;
end
$$;
revoke all on function hubsync._tg_association_phase() from public;

create or replace trigger hubsync_associations_phase after update of phase, enabled on hubsync.objects
  for each row
  when (new.kind = 'crm' and new.object_type not in ('owners', 'pipelines')
        and (old.phase, old.enabled) is distinct from (new.phase, new.enabled)
        and ((new.enabled and new.phase in ('backfilling', 'live')) or not new.enabled or new.phase = 'disabled'))
  execute function hubsync._tg_association_phase();

-- After each incremental pull (last_pull_at moves) of a type with filled association tables, the
-- records the pull wrote get their associations re-read (task hubsync_refresh_associations): a new
-- contact shows with its company within the pull's minute, not at the next sweep.
create or replace function hubsync._tg_association_pulled() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if exists (select 1 from hubsync.association_pairs p
              where new.object_type in (p.a_type, p.b_type) and p.backfilled_at is not null) then
    perform hubsync_worker.add_job('hubsync_refresh_associations', json_build_object('objectType', new.object_type),
                                   queue_name := 'hubsync:associations',
                                   job_key := 'hubsync_refresh_associations:' || new.object_type);
  end if;
  return null;
end
$$;
revoke all on function hubsync._tg_association_pulled() from public;

create or replace trigger hubsync_associations_pulled after update of last_pull_at on hubsync.objects
  for each row
  when (new.enabled and new.kind = 'crm' and new.last_pull_at is distinct from old.last_pull_at)
  execute function hubsync._tg_association_pulled();
