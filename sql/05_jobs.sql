-- How SQL queues hubsync's worker tasks: the one place in sql/ that spells job keys and queue
-- names. src/core/jobs.ts holds the same rules for TypeScript, with the table of which step queues
-- which task; test/jobs.test.ts checks the two (and the crontab file) agree.
--
-- A job key keeps at most one waiting job per task (and object type): queueing it again replaces
-- the waiting one (job_key_mode 'replace', which also moves its run_at). A named queue runs its
-- jobs one at a time: the pulls of one object type share hubsync:<type>, association jobs share
-- hubsync:associations, webhook applies run alone in hubsync:webhooks.

-- The job key of a task, for one object type or (object_type null) the task-wide job; key_suffix
-- names a second job of the same task (the webhook apply's retry). No SET clause, unlike its
-- neighbours: a SQL function without one is inlined into the query that calls it, where a SET
-- makes PostgreSQL parse and plan its body again on every call — in the push wake-up, at the
-- commit of every transaction that writes to a write-back table. Its body uses only built-in
-- operators, and its callers run with a fixed search_path.
create or replace function hubsync._job_key(task text, object_type text default null, key_suffix text default null) returns text
language sql immutable parallel safe
as $$
  select case
           when _job_key.object_type is not null then _job_key.task || ':' || _job_key.object_type
           -- the push without a type is the sweep of every type, apart from the per-type pushes
           when _job_key.task = 'hubsync_push' then 'hubsync_push_sweep'
           else _job_key.task
         end || coalesce(':' || _job_key.key_suffix, '')
$$;

-- The queue a task's jobs run in (null: none, its jobs run side by side).
create or replace function hubsync._job_queue(task text, object_type text default null) returns text
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
  select case
           when _job_queue.task in ('hubsync_discover', 'hubsync_backfill', 'hubsync_pull') then 'hubsync:' || _job_queue.object_type
           when _job_queue.task in ('hubsync_backfill_associations', 'hubsync_refresh_associations', 'hubsync_sweep_associations') then 'hubsync:associations'
           when _job_queue.task = 'hubsync_webhook_apply' then 'hubsync:webhooks'
           when _job_queue.task = 'hubsync_history' then 'hubsync:history'
           -- the sweep of lists never overlaps a pull of them
           when _job_queue.task = 'hubsync_sweep_lists' then 'hubsync:lists'
         end
$$;

-- Queues a task (payload {"objectType": …} when one is given; {"publication": …} for hubsync_publish,
-- whose jobs are per publication) under its key and in its queue.
-- run_at null is now; priority: lower runs first. Called by the SECURITY DEFINER functions and
-- triggers of the SQL API, which run as the role that owns hubsync_worker.
create or replace function hubsync._enqueue(task text, object_type text default null, run_at timestamptz default null,
                                            priority integer default 0, key_suffix text default null) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform hubsync_worker.add_job(_enqueue.task,
                                 case when _enqueue.object_type is null then '{}'::json
                                      when _enqueue.task = 'hubsync_publish' then json_build_object('publication', _enqueue.object_type)
                                      else json_build_object('objectType', _enqueue.object_type) end,
                                 queue_name := hubsync._job_queue(_enqueue.task, _enqueue.object_type),
                                 job_key := hubsync._job_key(_enqueue.task, _enqueue.object_type, _enqueue.key_suffix),
                                 run_at := coalesce(_enqueue.run_at, now()),
                                 priority := _enqueue.priority,
                                 job_key_mode := 'replace');
end
$$;
revoke all on function hubsync._enqueue(text, text, timestamptz, integer, text) from public;
