-- Who may see and do what. Each function and view is granted beside its definition; this file
-- says what the three roles are for and lets readers into the schema.
--
--   hubspot_reader  the data: select on hubspot.* (default privileges, migration 000001), plus the
--                   health views hubsync.status, association_status and webhook_status (counts,
--                   times and the last error; what `hubsync status` prints), and the change log
--                   hubsync.changes (what changed in that data, once HubSpot has it). Nothing else of
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
