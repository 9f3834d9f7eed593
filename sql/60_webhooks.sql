-- Real time through HubSpot webhooks: the receiver (src/core/webhooks/receiver.ts) writes each posted
-- batch into hubsync.webhook_events and wakes the apply task in the same statement; the task
-- (tasks/hubsync_webhook_apply.ts) re-reads the records and applies them.

comment on table hubsync.webhook_events is
  'The webhook inbox: one row per event HubSpot posted to the receiver, stored before it answered, then applied by '
  'the hubsync_webhook_apply task (status pending, processing, done, ignored with a note, or failed with the error and '
  'retried at next_attempt_at); event holds the event as HubSpot sent it';

-- Wakes hubsync_webhook_apply: now (one job key, coalesced across requests), or at run_at under a
-- separate key (failed rows waiting for their retry time; a wake-up now must not push that job back).
-- Ahead of pulls and sweeps for the next free worker slot, like a push: someone waits for it. One
-- run at a time (queue hubsync:webhooks): two runs reading the same record at different moments
-- could otherwise write an older read after a newer delete.
create or replace function hubsync._wake_webhook_apply(run_at timestamptz default null) returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform hubsync_worker.add_job('hubsync_webhook_apply', '{}'::json,
                                 job_key := case when _wake_webhook_apply.run_at is null then 'hubsync_webhook_apply'
                                                 else 'hubsync_webhook_apply:retry' end,
                                 queue_name := 'hubsync:webhooks',
                                 run_at := coalesce(_wake_webhook_apply.run_at, now()),
                                 priority := -10,
                                 job_key_mode := 'replace');
end
$$;
revoke all on function hubsync._wake_webhook_apply(timestamptz) from public;

-- One row: what the inbox holds and how fast it drains. lag = occurredAt in HubSpot → applied here.
create or replace view hubsync.webhook_status as
select count(*) filter (where e.status in ('pending', 'processing')) as pending,
       count(*) filter (where e.status = 'failed') as failed,
       count(*) filter (where e.status = 'done') as done,
       count(*) filter (where e.status = 'ignored') as ignored,
       min(e.received_at) filter (where e.status in ('pending', 'processing', 'failed')) as oldest_waiting_at,
       max(e.received_at) as last_received_at,
       max(e.processed_at) as last_processed_at,
       (percentile_cont(0.5) within group (order by extract(epoch from e.processed_at - e.occurred_at) * 1000)
          filter (where e.status = 'done' and e.processed_at > now() - interval '1 hour'))::bigint as lag_p50_ms,
       (percentile_cont(0.95) within group (order by extract(epoch from e.processed_at - e.occurred_at) * 1000)
          filter (where e.status = 'done' and e.processed_at > now() - interval '1 hour'))::bigint as lag_p95_ms,
       (array_agg(e.error order by e.id desc) filter (where e.status = 'failed'))[1] as last_error
  from hubsync.webhook_events e;

comment on view hubsync.webhook_status is
  'The webhook inbox: events waiting, failed (kept and retried), applied and ignored (kept 24 h), '
  'the oldest one waiting, the last received/applied, lag from HubSpot''s occurredAt to applied over the last hour, last error';

grant select on hubsync.webhook_status to hubsync_admin, hubspot_reader;
