--! Previous: sha1:9edb03626c8affa328f1d601f77a50fe4d28edcd
--! Hash: sha1:395f075760c72e4fa730b89ee4b49f73adc0c931
--! Message: webhook inbox, HubSpot pauses, outbox archive index

-- == HARDEN ==
-- Portal-wide pauses (daily quota used up, access token refused) live on the 'general' row of
-- hubsync.rate_budget next to the 429 windows: blocked_reason 'daily' or 'auth', blocked_until =
-- when one probe request may go, and the sentence hubsync.status shows while it lasts.
alter table hubsync.rate_budget add column if not exists blocked_message text;
alter table hubsync.rate_budget add column if not exists paused_at timestamptz;

-- == WEBHOOKS ==
-- The webhook inbox: one row per event HubSpot posted to the receiver, written in the request's own
-- transaction before it answers 204, then applied by the hubsync_webhook_apply task. Applying
-- re-reads each record's current state from HubSpot, so order and duplicates do not matter.
create table if not exists hubsync.webhook_events (
  id bigint generated always as identity primary key,
  received_at timestamptz not null default now(),
  occurred_at timestamptz,                  -- HubSpot's occurredAt
  subscription_type text not null,          -- 'contact.propertyChange', 'object.creation', ...
  object_type_id text,                      -- generic object.* events: '0-1', '2-1234'
  object_id text,
  event_id bigint,                          -- HubSpot's eventId (not guaranteed unique)
  attempt_number integer,                   -- HubSpot's delivery attempt (0 = first)
  event jsonb not null,                     -- the event exactly as HubSpot sent it
  status text not null default 'pending' check (status in ('pending', 'processing', 'done', 'ignored', 'failed')),
  object_type text,                         -- hubsync object type it was applied to (set when applied)
  attempts integer not null default 0,      -- apply attempts
  next_attempt_at timestamptz not null default now(),
  claimed_until timestamptz,                -- an apply run holds the row until then (a crashed run's rows return)
  error text,                               -- last apply failure (status 'failed')
  note text,                                -- why the event was ignored (status 'ignored')
  processed_at timestamptz
);
create index if not exists webhook_events_due on hubsync.webhook_events (next_attempt_at, id)
  where status in ('pending', 'processing', 'failed');
create index if not exists webhook_events_processed on hubsync.webhook_events (processed_at)
  where status in ('done', 'ignored');

-- == FAULTS ==
-- pulls look up local deletes on their way to HubSpot (src/pull/upsert.ts) for every record they write
create index if not exists outbox_archive_idx on hubsync.outbox (object_type, record_id) where op = 'archive';
