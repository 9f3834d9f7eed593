-- Portal-wide HubSpot rate budget, spent by every HubSpot call (src/core/hubspot/rate-budget.ts).
-- One sliding-window log per bucket, shared by every worker process. A reservation is one call of
-- hubsync.rate_reserve(bucket): it takes the bucket row's lock for the length of one statement, so
-- concurrent processes are serialised and never over-spend the window between them. The worker
-- calls these functions (src/core/hubspot/rate-budget.ts); a DBA reads the table.

comment on table hubsync.rate_budget is
  'HubSpot''s rate limits as every hubsync process spends them, one row per bucket: general (the 10-second burst '
  'limit, the daily quota as HubSpot reports it, and portal-wide pauses: daily quota used up, token refused), '
  'search (the per-second search limit) and associations (association API calls). capacity per window_ms, '
  'requests and 429s counted since install. push_share: the fraction of each window pushes (write-back) may take '
  'ahead of pulls and backfills (HUBSYNC_PUSH_RATE_SHARE), push_slots their reservations in the window, '
  'push_waiting_until set while a push waits for the next free slot';

-- create or replace cannot change a function's arguments or OUT columns, and older installs have a
-- rate_reserve with fewer of them: dropped and created again on every install (nothing depends on
-- it in SQL).
drop function if exists hubsync.rate_reserve(text);
drop function if exists hubsync.rate_reserve(text, boolean);
drop function if exists hubsync.rate_reserve(text, text);
-- p_class: 'foreground' or 'background' work, for the day's quota (below). p_push: the reservation
-- is a push's. A user who committed a change waits for it, while a backfill or a pull takes
-- minutes anyway: so within push_share of the window a push goes first. When the window is full it
-- takes the next slot that frees (the others hold back until push_waiting_until); beyond its share
-- it queues like everyone else, so a mass update never starves the pulls.
create or replace function hubsync.rate_reserve(p_bucket text, p_class text default 'foreground', p_push boolean default false,
                                                out wait_ms integer, out reason text,
                                                out slot timestamptz, out probe boolean, out message text)
language plpgsql as $$
declare
  r hubsync.rate_budget%rowtype;
  g hubsync.rate_budget%rowtype;
  t timestamptz;
  win interval;
  live timestamptz[];
  push_live timestamptz[];
  ahead boolean;
  floor_left bigint;
begin
  probe := false;
  select * into r from hubsync.rate_budget where bucket = p_bucket for update;
  if not found then
    raise exception 'hubsync: no rate budget row for bucket %', p_bucket;
  end if;
  -- the time is read once the lock is ours: a slot stamped while queueing for the lock would
  -- leave the window early and let the next window over-spend
  t := clock_timestamp();
  -- A portal-wide pause (daily quota used up, access token refused, account being migrated) is kept on the 'general' row
  -- and stops every bucket. When it runs out, exactly one request (the probe) goes: it takes a
  -- 10-second lease so the others keep waiting for its answer instead of all asking at once.
  if p_bucket = 'general' then
    g := r;
  else
    -- read without a lock first: only a pause (rare) needs the general row locked too
    select * into g from hubsync.rate_budget where bucket = 'general';
    if g.blocked_reason in ('daily', 'auth', 'migration') then
      select * into g from hubsync.rate_budget where bucket = 'general' for update;
    end if;
  end if;
  if g.blocked_reason in ('daily', 'auth', 'migration') then
    reason := g.blocked_reason;
    message := g.blocked_message;
    if g.blocked_until is not null and g.blocked_until > t then
      wait_ms := ceil(extract(epoch from (g.blocked_until - t)) * 1000)::integer;
      return;
    end if;
    update hubsync.rate_budget set blocked_until = t + interval '10 seconds', updated_at = t where bucket = 'general';
    probe := true;
  end if;
  -- The day's quota is the account's (src/core/daily-quota.ts has the policy): background scans stop
  -- at their floor, everything else at the reserve left to the portal's other apps, until the
  -- quota resets. Figures from before the reset are yesterday's: the first answer after it brings
  -- today's.
  if g.daily_remaining is not null and g.daily_resets_at > t and not probe then
    floor_left := g.daily_reserve;
    if p_class = 'background' then floor_left := g.daily_background_floor; end if;
    if g.daily_remaining <= floor_left then
      -- background work waits for the reset; everything else becomes a portal-wide daily pause
      -- (the caller sets it, with its probe), as if HubSpot had answered 429 DAILY at the reserve
      reason := case when p_class = 'background' then 'background' else 'reserve' end;
      wait_ms := greatest(1, ceil(extract(epoch from (g.daily_resets_at - t)) * 1000)::integer);
      message := case when p_class = 'background'
        then format('%s calls left of HubSpot''s daily %s: background scans (archived records, association sweeps, reconcile) wait until the quota resets at %s, leaving the rest to pushes and incremental pulls',
                    g.daily_remaining, g.daily_limit, hubsync._account_time(g.daily_resets_at, g.daily_time_zone))
        else format('%s calls left of HubSpot''s daily %s, the reserve hubsync leaves to the portal''s other apps is %s',
                    g.daily_remaining, g.daily_limit, g.daily_reserve) end;
      return;
    end if;
  end if;
  if r.blocked_until is not null and r.blocked_until > t and not probe then
    wait_ms := ceil(extract(epoch from (r.blocked_until - t)) * 1000)::integer;
    reason := coalesce(r.blocked_reason, 'blocked');
    return;
  end if;
  win := make_interval(secs => r.window_ms / 1000.0);
  live := array(select s from unnest(r.slots) as s where s > t - win order by s);
  push_live := array(select s from unnest(r.push_slots) as s where s > t - win order by s);
  ahead := p_push and cardinality(push_live) < floor(r.capacity * r.push_share);
  if cardinality(live) >= r.capacity and not probe then
    -- the oldest reservation that must leave the window before this one fits
    wait_ms := greatest(1, ceil(extract(epoch from (live[cardinality(live) - r.capacity + 1] + win - t)) * 1000)::integer);
    reason := 'window';
    if ahead then
      -- the others hold back until this push has had that slot: its wait, the caller's jitter
      -- (up to 15 ms) and a round trip to the database
      update hubsync.rate_budget
         set push_waiting_until = greatest(coalesce(push_waiting_until, t), t + make_interval(secs => (wait_ms + 100) / 1000.0))
       where bucket = p_bucket;
    end if;
    return;
  end if;
  if not ahead and not probe and r.push_waiting_until is not null and r.push_waiting_until > t then
    -- asked again soon rather than at the lease's end: the push clears it as soon as it has its
    -- slot, and a slot nobody takes meanwhile is lost to the backfill
    wait_ms := least(25, greatest(1, ceil(extract(epoch from (r.push_waiting_until - t)) * 1000)::integer));
    reason := 'push';
    return;
  end if;
  update hubsync.rate_budget
     set slots = live || t,
         push_slots = case when p_push then push_live || t else push_live end,
         push_waiting_until = case when ahead then null else push_waiting_until end,
         requests = requests + 1, updated_at = t,
         daily_remaining = case when p_bucket = 'general' then daily_remaining - 1 else daily_remaining end
   where bucket = p_bucket;
  -- every bucket draws on the one daily quota: counted here until HubSpot's next header says
  if p_bucket <> 'general' and g.daily_remaining is not null then
    update hubsync.rate_budget set daily_remaining = daily_remaining - 1 where bucket = 'general';
  end if;
  wait_ms := 0;
  if not probe then reason := null; message := null; end if;
  slot := t;
end
$$;
comment on function hubsync.rate_reserve(text, text, boolean) is
  'Reserves one HubSpot request in a bucket of hubsync.rate_budget for the calling process and class of work '
  '(foreground, or background: archived scan, association sweep, reconcile): wait_ms = 0 and the slot taken, or how '
  'long to wait and why (window, 429 block, daily or auth pause, the day''s calls down to the reserve or, for background '
  'work, its floor, push = a push goes first); probe = the one request let through to see whether a pause is over. '
  'p_push: a push''s request, first in line within push_share of the window. Called by the worker before each request';

-- A portal-wide pause: nobody sends anything before p_until except one probe then.
create or replace function hubsync.rate_pause(p_reason text, p_until timestamptz, p_message text)
returns void language sql as $$
  update hubsync.rate_budget
     set blocked_until = p_until, blocked_reason = p_reason, blocked_message = p_message,
         paused_at = case when blocked_reason is not distinct from p_reason then coalesce(paused_at, clock_timestamp()) else clock_timestamp() end,
         rate_limited = rate_limited + case when p_reason = 'daily' then 1 else 0 end,
         updated_at = clock_timestamp()
   where bucket = 'general'
$$;
comment on function hubsync.rate_pause(text, timestamptz, text) is
  'Pauses every bucket until a time (reason daily or auth, with the sentence hubsync.status shows); then one probe request goes';

-- HubSpot answered again (the probe got through, or a new process started with a fixed token): the pause ends.
create or replace function hubsync.rate_resume(p_reason text default null)
returns void language sql as $$
  update hubsync.rate_budget
     set blocked_until = null, blocked_reason = null, blocked_message = null, paused_at = null, updated_at = clock_timestamp()
   where bucket = 'general' and blocked_reason in ('daily', 'auth', 'migration') and (p_reason is null or blocked_reason = p_reason)
$$;
comment on function hubsync.rate_resume(text) is
  'Ends a portal-wide pause (of one reason, or any): HubSpot answered again';

-- Once the answer is in, the slot is moved to the time of the answer. HubSpot counted the request
-- when it arrived, which is no later than that: the window we keep then always covers HubSpot's,
-- however long the request waited in between (a busy event loop, a slow network).
create or replace function hubsync.rate_settle(p_bucket text, p_slot timestamptz)
returns void language sql as $$
  update hubsync.rate_budget
     set slots = case when p_slot = any (slots) then array_replace(slots, p_slot, clock_timestamp()) else slots || clock_timestamp() end
   where bucket = p_bucket
$$;
comment on function hubsync.rate_settle(text, timestamptz) is
  'Moves a reserved slot to the time HubSpot''s answer came in, so the window kept here always covers HubSpot''s';

-- A 429 (or a daily stop) blocks the bucket for every process until HubSpot's window has passed.
create or replace function hubsync.rate_block(p_bucket text, p_ms integer, p_reason text, p_count_429 boolean default true)
returns void language sql as $$
  update hubsync.rate_budget
     set blocked_until = greatest(coalesce(blocked_until, clock_timestamp()), clock_timestamp() + make_interval(secs => p_ms / 1000.0)),
         -- a window's 429 never hides a portal-wide pause (reserve needs its reason)
         blocked_reason = case when blocked_reason in ('daily', 'auth', 'migration') then blocked_reason else p_reason end,
         rate_limited = rate_limited + case when p_count_429 then 1 else 0 end,
         updated_at = clock_timestamp()
   where bucket = p_bucket
$$;
comment on function hubsync.rate_block(text, integer, text, boolean) is
  'Blocks a bucket for every process for p_ms milliseconds after a 429 (counted unless p_count_429 is false) or a daily stop';
