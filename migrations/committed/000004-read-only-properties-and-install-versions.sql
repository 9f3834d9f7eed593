--! Previous: sha1:395f075760c72e4fa730b89ee4b49f73adc0c931
--! Hash: sha1:ea6e60b1abd05499bf9c7021381d4a9e78bbdc20
--! Message: read-only properties and install versions

-- == READ-ONLY PROPERTIES ==
-- The object's properties HubSpot computes or sets itself (the properties API's calculated /
-- readOnlyValue), kept by discovery. The write-back trigger refuses such a key written into the
-- `properties` jsonb column: the change is rejected locally, with the reason, and never sent.
alter table hubsync.objects add column if not exists read_only_properties text[] not null default '{}';
comment on column hubsync.objects.read_only_properties is
  'Properties HubSpot computes or sets itself (kept by discovery); written into properties jsonb they are rejected locally, never sent';

-- == PACKAGE ==
-- Which hubsync installed this database, one row per `hubsync install`: the newest row is what the
-- database is at. An older hubsync reads it and refuses to install over a newer one (its SQL API
-- would replace functions the newer tables depend on).
create table if not exists hubsync.installs (
  version text not null,
  installed_at timestamptz not null default now(),
  installed_by text not null default current_user
);
create index if not exists installs_installed_at on hubsync.installs (installed_at desc);
comment on table hubsync.installs is 'every hubsync install run on this database (hubsync version, when, by whom); the newest row is the installed version';
