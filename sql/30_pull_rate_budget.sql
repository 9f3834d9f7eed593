-- == PULL: portal-wide HubSpot rate budget ==
-- One sliding-window log per bucket, shared by every worker process. A reservation is one call of
-- hubsync.rate_reserve(bucket): it takes the bucket row's lock for the length of one statement, so
-- concurrent processes are serialised and never over-spend the window between them.

drop function if exists hubsync.rate_reserve(text);
create or replace function hubsync.rate_reserve(p_bucket text, out wait_ms integer, out reason text, out slot timestamptz)
language plpgsql as $$
declare
  r hubsync.rate_budget%rowtype;
  t timestamptz;
  win interval;
  live timestamptz[];
begin
  select * into r from hubsync.rate_budget where bucket = p_bucket for update;
  if not found then
    raise exception 'hubsync: no rate budget row for bucket %', p_bucket;
  end if;
  -- the time is read once the lock is ours: a slot stamped while queueing for the lock would
  -- leave the window early and let the next window over-spend
  t := clock_timestamp();
  if r.blocked_until is not null and r.blocked_until > t then
    wait_ms := ceil(extract(epoch from (r.blocked_until - t)) * 1000)::integer;
    reason := coalesce(r.blocked_reason, 'blocked');
    return;
  end if;
  -- the daily quota is shared by both buckets; its stop is kept on the 'general' row
  select ceil(extract(epoch from (g.blocked_until - t)) * 1000)::integer into wait_ms
    from hubsync.rate_budget g
   where g.bucket = 'general' and g.blocked_reason = 'daily' and g.blocked_until > t;
  if wait_ms is not null then
    reason := 'daily';
    return;
  end if;
  if p_bucket = 'associations' then
    -- exempt from the ten-secondly limit: counted (daily quota) but never held back by a window
    update hubsync.rate_budget set requests = requests + 1, updated_at = t where bucket = p_bucket;
    wait_ms := 0;
    slot := null;
    return;
  end if;
  win := make_interval(secs => r.window_ms / 1000.0);
  live := array(select s from unnest(r.slots) as s where s > t - win order by s);
  if cardinality(live) >= r.capacity then
    -- the oldest reservation that must leave the window before this one fits
    wait_ms := greatest(1, ceil(extract(epoch from (live[cardinality(live) - r.capacity + 1] + win - t)) * 1000)::integer);
    reason := 'window';
    return;
  end if;
  update hubsync.rate_budget
     set slots = live || t, requests = requests + 1, updated_at = t
   where bucket = p_bucket;
  wait_ms := 0;
  reason := null;
  slot := t;
end
$$;

-- Once the answer is in, the slot is moved to the time of the answer. HubSpot counted the request
-- when it arrived, which is no later than that: the window we keep then always covers HubSpot's,
-- however long the request waited in between (a busy event loop, a slow network).
create or replace function hubsync.rate_settle(p_bucket text, p_slot timestamptz)
returns void language sql as $$
  update hubsync.rate_budget
     set slots = case when p_slot = any (slots) then array_replace(slots, p_slot, clock_timestamp()) else slots || clock_timestamp() end
   where bucket = p_bucket
$$;

-- A 429 (or a daily stop) blocks the bucket for every process until HubSpot's window has passed.
create or replace function hubsync.rate_block(p_bucket text, p_ms integer, p_reason text, p_count_429 boolean default true)
returns void language sql as $$
  update hubsync.rate_budget
     set blocked_until = greatest(coalesce(blocked_until, clock_timestamp()), clock_timestamp() + make_interval(secs => p_ms / 1000.0)),
         blocked_reason = p_reason,
         rate_limited = rate_limited + case when p_count_429 then 1 else 0 end,
         updated_at = clock_timestamp()
   where bucket = p_bucket
$$;
