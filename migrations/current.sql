-- Development migration (graphile-migrate's current.sql). `hubsync install` applies it after the
-- committed migrations, so everything here must be idempotent (create table if not exists,
-- add column if not exists, ...). Each area keeps its own section headed `-- == <AREA> ==`;
-- the lead commits this file into migrations/committed/ at the end.

-- == HARDEN ==
-- Portal-wide pauses (daily quota used up, access token refused) live on the 'general' row of
-- hubsync.rate_budget next to the 429 windows: blocked_reason 'daily' or 'auth', blocked_until =
-- when one probe request may go, and the sentence hubsync.status shows while it lasts.
alter table hubsync.rate_budget add column if not exists blocked_message text;
alter table hubsync.rate_budget add column if not exists paused_at timestamptz;
