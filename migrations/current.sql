-- Development migration (graphile-migrate's current.sql). `hubsync install` applies it after the
-- committed migrations, so everything here must be idempotent (create table if not exists,
-- add column if not exists, ...). Each area keeps its own section headed `-- == <AREA> ==`;
-- the lead commits this file into migrations/committed/ at the end.

-- == h-reserve ==
-- The day's quota as hubsync tracks it between HubSpot's headers: the reserve left to the portal's
-- other apps, the floor where background scans stop, when the day began and ends (midnight in the
-- account's time zone) and that zone, for hubsync.status's projection.
alter table hubsync.rate_budget
  add column if not exists daily_reserve bigint,
  add column if not exists daily_background_floor bigint,
  add column if not exists daily_period_start timestamptz,
  add column if not exists daily_resets_at timestamptz,
  add column if not exists daily_time_zone text;
