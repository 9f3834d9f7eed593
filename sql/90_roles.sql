-- Who may see and do what. Applied last by `hubsync install`, so it has the final word over the
-- files before it.
--
--   hubspot_reader  the data: select on hubspot.* (default privileges, migration 000001), plus the
--                   health views hubsync.status, association_status and webhook_status (counts,
--                   times and the last error; what `hubsync status` prints). Nothing else of
--                   hubsync: the outbox, conflicts and runs carry local changes not yet in HubSpot
--                   and operational detail an analyst does not need.
--   hubspot_writer  a reader that may insert, update and delete in write-back tables (granted per
--                   table by enable_write_back). Its rows show a rejection in _sync_error and
--                   hubsync.status counts them; it cannot read the outbox nor change configuration.
--   hubsync_admin   reads every hubsync table and calls the SQL API (enable_sync, ...).
--
-- Functions that change configuration are SECURITY DEFINER with a fixed search_path and are not
-- executable by PUBLIC (test/security-roles.test.ts checks the whole catalog).

grant usage on schema hubsync to hubspot_reader;
grant select on hubsync.status to hubspot_reader;
-- the other health views, where their areas are installed (`hubsync status` reads webhook_status too)
do $$
declare
  v text;
begin
  foreach v in array array['hubsync.association_status', 'hubsync.webhook_status'] loop
    if to_regclass(v) is not null then
      execute format('grant select on %s to hubspot_reader', v);
    end if;
  end loop;
end
$$;
-- The views count rows with this (SECURITY DEFINER, reads only hubspot.* tables, which readers
-- may read anyway); a view's caller needs execute on the functions it calls.
grant execute on function hubsync._row_count(text) to hubspot_reader;
