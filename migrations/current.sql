-- Development migration (graphile-migrate's current.sql). `hubsync install` applies it after the
-- committed migrations, so everything here must be idempotent (create table if not exists,
-- add column if not exists, ...). Each area keeps its own section headed `-- == <AREA> ==`;
-- the lead commits this file into migrations/committed/ at the end.

-- == lead ==
-- The quota alert's day is the account's, which the rate budget keeps (daily_time_zone): the
-- setting that asked a DBA to type it again is gone.
delete from hubsync.settings where name = 'alerts.quota_time_zone';
