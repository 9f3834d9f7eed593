import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prune } from "../src/core/retention.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { enableSync, quietLog } from "./support/worker.ts";

// hubsync's bookkeeping tables are pruned after the periods in hubsync.settings, and a backlog (two
// months of runs on a first upgrade: tens of batches of each kind, as a year's would be in hundreds)
// is worked off without the sync ever queueing behind it.

let db: TestDatabase;
beforeAll(async () => {
  db = await installedDatabase("retention");
});
afterAll(async () => {
  await db?.drop();
});

const one = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => (await db.pool.query(sql, params)).rows[0] as T;
const n = async (sql: string, params: unknown[] = []) => Number((await one<{ n: string }>(sql, params)).n);

describe("hubsync.set_setting", () => {
  it("changes a setting and says what it was", async () => {
    expect((await one<{ r: string }>(`select hubsync.set_setting('retention.conflicts_days', '45') as r`)).r).toBe("retention.conflicts_days: 45 (was 30)");
    expect((await one<{ v: string }>(`select hubsync.setting('retention.conflicts_days') as v`)).v).toBe("45");
    await db.pool.query(`select hubsync.set_setting('retention.conflicts_days', '30')`);
  });

  it("refuses an unknown name, listing the settings, and a value that is not a whole number", async () => {
    const unknown = await db.pool.query(`select hubsync.set_setting('retention.runs', '3')`).catch((e: pg.DatabaseError) => e);
    expect(unknown).toMatchObject({ code: "22023", message: `hubsync: unknown setting 'retention.runs'` });
    expect((unknown as pg.DatabaseError).hint).toContain("retention.runs_days");
    const words = await db.pool.query(`select hubsync.set_setting('retention.runs_days', 'a month')`).catch((e: pg.DatabaseError) => e);
    expect(words).toMatchObject({ code: "22023", message: `hubsync: setting retention.runs_days must be a whole number of at least 1, not 'a month'` });
    const zero = await db.pool.query(`select hubsync.set_setting('retention.runs_days', '0')`).catch((e: pg.DatabaseError) => e);
    expect(zero).toMatchObject({ code: "22023" });
    expect((await one<{ v: string }>(`select hubsync.setting('retention.runs_days') as v`)).v).toBe("30");
  });
});

describe("pruning two months of bookkeeping", () => {
  // a run every 4 minutes for 2 object types over two months: what a worker leaves behind by then
  // (30 days past the longest period, so some runs go entirely and the month before is summed)
  const RUN_EVERY = "4 minutes";
  let statusBefore: unknown[];

  beforeAll(async () => {
    await enableSync(db.pool, "contacts");
    await db.pool.query(`update hubsync.objects set table_name = 'contacts', phase = 'live' where object_type = 'contacts'`);
    await db.pool.query(
      `insert into hubsync.runs (object_type, kind, status, started_at, finished_at, records, requests, rate_limited)
       select t, 'incremental', case when g.i % 97 = 0 then 'error' else 'ok' end, at, at + interval '1.5 seconds', g.i % 7, 2, g.i % 2
         from generate_series(now() - interval '60 days', now(), interval '${RUN_EVERY}') with ordinality g(at, i)
        cross join unnest(array['contacts', 'companies']) t`,
    );
    // a run a killed worker left 'running' long ago: the dead-worker check closes it, retention must not hide it
    await db.pool.query(`insert into hubsync.runs (object_type, kind, status, started_at, worker_id) values ('contacts', 'backfill', 'running', now() - interval '20 days', 'gone')`);
    // what the hourly sums must add up to
    await db.pool.query(`create table runs_before as select * from hubsync.runs`);
    // outbox: old sent and superseded rows go; old pending and rejected ones are someone's work and stay.
    // The old ones are queued pending and then sent or superseded 20,000 at a time, as the push
    // marks them a statement at a time: inserted so, each row would go through the totals trigger
    // of its own (meant for the few changes refused before sending), which took most of this file's time.
    for (const s of ["sent", "superseded"]) {
      await db.pool.query(
        `insert into hubsync.outbox (object_type, record_id, op, status, created_at) select 'contacts', g::text, 'update', 'pending', now() - interval '60 days' from generate_series(1, 20000) g`,
      );
      await db.pool.query(`update hubsync.outbox set status = $1, sent_at = case when $1 = 'sent' then created_at end where status = 'pending'`, [s]);
    }
    await db.pool.query(
      `insert into hubsync.outbox (object_type, record_id, op, status, created_at, sent_at)
       select 'contacts', 'recent', 'update', 'sent', now() - interval '2 days', now() - interval '2 days'
       union all select 'contacts', 'old-pending', 'update', 'pending', now() - interval '60 days', null
       union all select 'contacts', 'old-rejected', 'update', 'rejected', now() - interval '60 days', null`,
    );
    await db.pool.query(
      `insert into hubsync.webhook_events (subscription_type, event, status, received_at, processed_at)
       select 'contact.propertyChange', '{}'::jsonb, 'done', now() - interval '40 days', now() - interval '40 days' from generate_series(1, 20000)
       union all select 'contact.propertyChange', '{}', 'ignored', now() - interval '40 days', now() - interval '40 days'
       union all select 'contact.propertyChange', '{"keep": "recent"}', 'done', now() - interval '1 day', now() - interval '1 day'
       union all select 'contact.propertyChange', '{"keep": "failed"}', 'failed', now() - interval '40 days', null`,
    );
    await db.pool.query(
      `insert into hubsync.conflicts (object_type, record_id, property, policy, winner, at)
       select 'contacts', g::text, 'email', 'hubspot_wins', 'hubspot', now() - interval '31 days' - g * interval '1 minute' from generate_series(1, 5000) g
       union all select 'contacts', 'recent', 'email', 'hubspot_wins', 'hubspot', now() - interval '29 days'`,
    );
    await db.pool.query(
      `insert into hubsync.merges (object_type, merged_id, winner_id, merged_at)
       select 'contacts', 'old' || g, 'w' || g, now() - interval '90 days' from generate_series(1, 5000) g
       union all select 'contacts', 'recent', 'w', now() - interval '3 days'`,
    );
    await db.pool.query(`vacuum analyze hubsync.runs, hubsync.outbox, hubsync.webhook_events, hubsync.conflicts, hubsync.merges`);
    statusBefore = (await db.pool.query(`select object_type, phase, pending, rejected from hubsync.status order by 1`)).rows;
  }, 120_000);

  it("deletes what is past its period while another connection keeps syncing, never waiting on a lock", async () => {
    const runsBefore = await n(`select count(*) as n from hubsync.runs`);
    expect(runsBefore).toBeGreaterThan(40_000);
    const oldRunIds = (await db.pool.query<{ id: string }>(`select id from hubsync.runs where started_at < now() - interval '8 days' order by random() limit 500`)).rows.map((r) => r.id);

    // The sync's side: inserts and updates into every pruned table, old rows included, each
    // statement refusing to wait more than a second for a lock (it fails with 55P03 instead).
    const sync = new pg.Client({ connectionString: db.url });
    await sync.connect();
    await sync.query(`set lock_timeout = '1s'`);
    const syncPid = (await sync.query<{ pid: number }>(`select pg_backend_pid() as pid`)).rows[0]!.pid;
    let stop = false;
    let statements = 0;
    const lockErrors: string[] = [];
    const waitsSeen: string[] = [];
    const syncing = (async () => {
      for (let i = 0; !stop; i++) {
        const steps: Array<[string, unknown[]]> = [
          [`insert into hubsync.runs (object_type, kind, status) values ('contacts', 'incremental', 'ok')`, []],
          [`update hubsync.runs set details = details || '{"touched": true}' where id = $1`, [oldRunIds[i % oldRunIds.length]]],
          [`insert into hubsync.outbox (object_type, record_id, op) values ('contacts', $1, 'update')`, [`live-${i}`]],
          [`update hubsync.outbox set attempts = attempts + 1 where record_id = $1 and status = 'sent'`, [String((i % 20000) + 1)]],
          [`insert into hubsync.webhook_events (subscription_type, event) values ('contact.creation', '{}')`, []],
          [`update hubsync.conflicts set resolved_value = 'x' where record_id = $1`, [String((i % 5000) + 1)]],
          [`insert into hubsync.merges (object_type, merged_id, winner_id) values ('contacts', $1, 'w') on conflict do nothing`, [`live-${i}`]],
        ];
        for (const [sql, params] of steps) {
          try {
            await sync.query(sql, params);
            statements++;
          } catch (err) {
            lockErrors.push((err as Error).message);
          }
        }
      }
    })();
    // And from outside: whether the sync's connection is ever seen waiting for a lock.
    const watching = (async () => {
      while (!stop) {
        const { rows } = await db.pool.query<{ lock: string }>(`select locktype || ' ' || mode as lock from pg_locks where pid = $1 and not granted`, [syncPid]);
        waitsSeen.push(...rows.map((r) => r.lock));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const result = await prune(db.pool, quietLog, { timeLimitMs: 240_000 }).finally(async () => {
      stop = true;
      await Promise.all([syncing, watching]);
      await sync.end();
    });

    expect(lockErrors).toEqual([]);
    // the sync did get work done meanwhile
    expect(statements).toBeGreaterThan(100);
    // a wait shorter than a batch may be seen; none reached lock_timeout (above)
    expect(result.complete).toBe(true);
    expect(result.batches).toBeGreaterThan(runsBefore / 1000 / 2);
    console.log(`pruned ${JSON.stringify(result.deleted)} in ${result.batches} batches; sync statements meanwhile ${statements}, lock waits seen ${waitsSeen.length}`);
  }, 300_000);

  it("keeps runs of the last 7 days one by one and the 30 days before as hourly sums", async () => {
    expect(await n(`select count(*) as n from hubsync.runs where started_at < now() - interval '7 days' and status <> 'running'`)).toBe(0);
    expect(await n(`select count(*) as n from hubsync.runs r join runs_before b using (id) where r.started_at >= now() - interval '7 days' + interval '1 minute'`)).toBeGreaterThan(2 * 7 * 24 * 14);
    // the killed worker's run is left to the dead-worker check
    expect(await n(`select count(*) as n from hubsync.runs where worker_id = 'gone' and status = 'running'`)).toBe(1);
    expect(await n(`select count(*) as n from hubsync.runs_hourly where hour < now() - interval '30 days'`)).toBe(0);
    // every hour from 30 to 7 days ago is there (a run every 4 minutes: 15 of each type an hour) ...
    const span = await one<{ first: Date; last: Date; hours: number }>(`select min(hour) as first, max(hour) as last, count(distinct hour)::int as hours from hubsync.runs_hourly`);
    expect(span.hours).toBe((span.last.getTime() - span.first.getTime()) / 3_600_000 + 1);
    expect(span.first.getTime()).toBeLessThan(Date.now() - 29 * 86_400_000);
    expect(span.last.getTime()).toBeGreaterThan(Date.now() - 8 * 86_400_000);
    // ... and says exactly what the runs of that hour said: one row per type, kind and status
    const mismatches = await db.pool.query(
      `with summed as (select date_trunc('hour', started_at) as hour, object_type, kind, status, count(*)::int as runs, sum(records)::bigint as records,
                              sum(requests)::bigint as requests, sum(rate_limited)::bigint as rate_limited, (count(*) * 1500)::bigint as ms
                         from runs_before where status <> 'running' group by 1, 2, 3, 4)
       select * from (select * from summed where hour in (select hour from hubsync.runs_hourly) and hour < (select date_trunc('hour', min(started_at)) from hubsync.runs where status <> 'running')
                      except select hour, object_type, kind, status, runs, records, requests, rate_limited, ms from hubsync.runs_hourly) x
       union all
       select * from (select hour, object_type, kind, status, runs, records, requests, rate_limited, ms from hubsync.runs_hourly
                      where hour < (select date_trunc('hour', min(started_at)) from hubsync.runs where status <> 'running')
                      except select * from summed) y`,
    );
    expect(mismatches.rows).toEqual([]);
    expect(await n(`select count(*) as n from hubsync.runs_hourly where runs = 15 and status = 'ok'`)).toBeGreaterThan(2 * 18 * 24);
  });

  it("prunes sent outbox rows, applied webhook events, conflicts and merges, and leaves what still needs work", async () => {
    expect((await db.pool.query(`select record_id, status from hubsync.outbox where created_at < now() - interval '1 day' order by 1`)).rows).toEqual([
      { record_id: "old-pending", status: "pending" },
      { record_id: "old-rejected", status: "rejected" },
      { record_id: "recent", status: "sent" },
    ]);
    expect((await db.pool.query(`select event, status from hubsync.webhook_events where received_at < now() - interval '1 hour' order by id`)).rows).toEqual([
      { event: { keep: "recent" }, status: "done" },
      { event: { keep: "failed" }, status: "failed" },
    ]);
    expect((await db.pool.query(`select record_id from hubsync.conflicts`)).rows).toEqual([{ record_id: "recent" }]);
    expect(await n(`select count(*) as n from hubsync.merges where merged_id like 'old%'`)).toBe(0);
    expect(await n(`select count(*) as n from hubsync.merges where merged_id = 'recent'`)).toBe(1);
    // pending and rejected changes, as hubsync.status counts them, are the sync's own writes plus the old ones
    const after = (await db.pool.query(`select object_type, phase, pending, rejected from hubsync.status order by 1`)).rows;
    const live = await n(`select count(*) as n from hubsync.outbox where record_id like 'live-%'`);
    expect(after).toEqual((statusBefore as Array<{ pending: string }>).map((r) => ({ ...r, pending: String(Number(r.pending) + live) })));
  });

  it("follows a DBA's shorter period, and a second prune finds nothing left", async () => {
    await db.pool.query(`select hubsync.set_setting('retention.merges_days', '2')`);
    const again = await prune(db.pool, quietLog);
    expect(again.deleted).toMatchObject({ runs: 0, outbox: 0, webhook_events: 0, conflicts: 0, merges: 1 });
    expect(await n(`select count(*) as n from hubsync.merges where merged_id = 'recent'`)).toBe(0);
  });
});
