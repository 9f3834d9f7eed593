-- Development migration (graphile-migrate's current.sql). `hubsync install` applies it after the
-- committed migrations, so everything here must be idempotent (create table if not exists,
-- add column if not exists, ...). Each area keeps its own section headed `-- == <AREA> ==`;
-- the lead commits this file into migrations/committed/ at the end.

-- == h-pushcap ==
-- The pushes' lane in the rate budget (sql/30_pull_rate_budget.sql, hubsync.rate_reserve with
-- p_push): push_slots = the push reservations still inside the window (a subset of slots, only
-- counted), push_share = the fraction of each window pushes may take ahead of everyone else,
-- push_waiting_until = a push is waiting for the next free slot: other reservations hold back
-- until then (a lease, so a push that died while waiting holds nobody back for long).
alter table hubsync.rate_budget add column if not exists push_slots timestamptz[] not null default '{}';
alter table hubsync.rate_budget add column if not exists push_share real not null default 0.5 check (push_share >= 0 and push_share <= 1);
alter table hubsync.rate_budget add column if not exists push_waiting_until timestamptz;
