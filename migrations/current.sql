-- Development migration (graphile-migrate's current.sql). `hubsync install` applies it after the
-- committed migrations, so everything here must be idempotent (create table if not exists,
-- add column if not exists, ...). Each area keeps its own section headed `-- == <AREA> ==`;
-- the lead commits this file into migrations/committed/ at the end.

-- == READ-ONLY PROPERTIES ==
-- The object's properties HubSpot computes or sets itself (the properties API's calculated /
-- readOnlyValue), kept by discovery. The write-back trigger refuses such a key written into the
-- `properties` jsonb column: the change is rejected locally, with the reason, and never sent.
alter table hubsync.objects add column if not exists read_only_properties text[] not null default '{}';
comment on column hubsync.objects.read_only_properties is
  'Properties HubSpot computes or sets itself (kept by discovery); written into properties jsonb they are rejected locally, never sent';
