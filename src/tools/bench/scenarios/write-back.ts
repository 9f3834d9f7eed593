import { propertyColumn } from "../../shared/columns.ts";
import { quoteIdent } from "../../../core/schema/naming.ts";
import { NAIVE_SCHEMA, naivePush } from "../naive.ts";
import { percentile, waitFor } from "../../shared/wait.ts";
import { workerDied, type TierContext } from "./context.ts";

export interface WriteBackFigures {
  rows: number;
  /** From the last commit until the last change was answered by HubSpot. */
  drainMs: number;
  calls: number;
  callsPerRow: number;
  rateLimited: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  /** Rows whose value did not reach the simulator. */
  lost: number;
  /** Records the push created in the simulator (an UPDATE must never create one). */
  created: number;
  /** The naive run covers a sample; the time is scaled to `rows` (see sampledRows). */
  sampledRows?: number;
}

const TYPE = "contacts";
/** A typed column of the default property set (properties kept only in the jsonb column work too, but this is what apps update). */
const PROPERTY = "firstname";

/** The commit stream both sides get: `rows` updated rows in commits of `batchSize`, one every `intervalMs`. */
export interface CommitStream {
  rows: number;
  batchSize: number;
  intervalMs: number;
}

/** hubsync's batch writes, on the dated paths or the legacy v3 ones (HUBSYNC_HUBSPOT_API). */
export const PUSH_PATH = new RegExp(`^/crm/(v3/objects|objects/\\d{4}-\\d{2})/${TYPE}/batch/(update|upsert|create)`);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Modification time in the simulator minus commit time, per row (what a user waits for, end to end). */
async function latencies(ctx: TierContext, committedAt: Map<string, number>, expected: (id: string) => string): Promise<{ values: number[]; lost: number }> {
  const records = new Map((await ctx.sim.records(TYPE)).map((r) => [r.id, r]));
  const values: number[] = [];
  let lost = 0;
  for (const [id, at] of committedAt) {
    const r = records.get(id);
    if (!r || r.properties[PROPERTY] !== expected(id)) {
      lost++;
      continue;
    }
    values.push(r.updatedAt - at);
  }
  return { values, lost };
}

/**
 * hubsync's write-back: plain UPDATEs on hubspot.contacts (write-back on), committed as a steady
 * stream; the trigger queues them and the worker's push sends them in batches.
 */
export async function hubsyncWriteBack(ctx: TierContext, stream: CommitStream, timeoutMs: number): Promise<WriteBackFigures> {
  const pool = ctx.db.pool;
  await pool.query(`select hubsync.enable_write_back($1)`, [TYPE]);
  const { table, column } = await propertyColumn(pool, TYPE, PROPERTY);
  const ids = (await pool.query<{ id: string }>(`select id from ${table} where id is not null order by id limit $1`, [stream.rows])).rows.map((r) => r.id);
  const simCountBefore = (await ctx.sim.records(TYPE)).length;
  const marker = `bench-wb-${Date.now()}`;
  const expected = (id: string) => `${marker} ${id}`;
  const { rows: start } = await pool.query<{ id: string | null }>(`select max(id) as id from hubsync.outbox`);
  const outboxFrom = Number(start[0]?.id ?? 0);
  const windowStart = Date.now();
  await ctx.sim.resetTraffic();

  const committedAt = new Map<string, number>();
  for (let i = 0; i < ids.length; i += stream.batchSize) {
    const tick = Date.now();
    const batch = ids.slice(i, i + stream.batchSize);
    await pool.query(`update ${table} set ${column} = $2 || ' ' || id where id = any($1)`, [batch, marker]);
    const at = Date.now();
    for (const id of batch) committedAt.set(id, at);
    if (i + stream.batchSize < ids.length) await sleep(Math.max(0, stream.intervalMs - (Date.now() - tick)));
  }
  const lastCommit = Date.now();
  const outboxState = async () =>
    (
      await pool.query<{ open: string; total: string; rejected: string }>(
        `select count(*) filter (where status in ('pending', 'in_flight')) as open, count(*) as total,
                count(*) filter (where status = 'rejected') as rejected
           from hubsync.outbox where id > $1 and object_type = $2`,
        [outboxFrom, TYPE],
      )
    ).rows[0]!;
  await waitFor(
    "the outbox to drain",
    async () => {
      const s = await outboxState();
      return Number(s.total) > 0 && Number(s.open) === 0 ? true : undefined;
    },
    { timeoutMs, intervalMs: 100, describe: async () => JSON.stringify(await outboxState()), failIf: workerDied(ctx) },
  );
  const drainMs = Date.now() - lastCommit;
  // The push's API calls: batch writes of contacts in the simulator's request log (pulls running meanwhile are not counted).
  const calls = (await ctx.sim.requestsSince(windowStart)).filter((r) => PUSH_PATH.test(r.path)).length;
  const traffic = await ctx.sim.traffic();
  const lat = await latencies(ctx, committedAt, expected);
  const simCountAfter = (await ctx.sim.records(TYPE)).length;
  return {
    rows: ids.length,
    drainMs,
    calls,
    callsPerRow: ids.length ? calls / ids.length : 0,
    rateLimited: traffic.rateLimited,
    latencyP50Ms: percentile(lat.values, 50),
    latencyP95Ms: percentile(lat.values, 95),
    lost: lat.lost,
    created: simCountAfter - simCountBefore,
  };
}

/**
 * The naive write-back: the same commit stream on the naive copy, one PATCH per row. At ~1 call per
 * row it cannot keep up with the rate limit, so it runs on a sample and its drain time is scaled.
 */
export async function naiveWriteBack(ctx: TierContext, stream: CommitStream, sampleRows: number): Promise<WriteBackFigures> {
  const ids = (
    await ctx.db.pool.query<{ id: string }>(`select id from ${NAIVE_SCHEMA}.${quoteIdent(TYPE)} order by id desc limit $1`, [sampleRows])
  ).rows.map((r) => r.id);
  const marker = `bench-naive-wb-${Date.now()}`;
  const expected = (id: string) => `${marker} ${id}`;
  const simCountBefore = (await ctx.sim.records(TYPE)).length;
  await ctx.sim.resetTraffic();
  const run = await naivePush(ctx.db.pool, ctx.http, {
    type: TYPE,
    property: PROPERTY,
    ids,
    value: expected,
    batchSize: stream.batchSize,
    intervalMs: stream.intervalMs,
  });
  const lat = await latencies(ctx, run.committedAt, expected);
  const simCountAfter = (await ctx.sim.records(TYPE)).length;
  // Scaled to the full stream: at the sample's rate of PATCHes, the full stream's rows minus what
  // goes out while the stream is still being committed.
  const rowsPerMs = ids.length / Math.max(1, run.ms);
  const streamMs = Math.ceil(stream.rows / stream.batchSize) * stream.intervalMs;
  return {
    rows: stream.rows,
    sampledRows: ids.length,
    drainMs: Math.max(0, stream.rows / rowsPerMs - streamMs),
    calls: run.calls,
    callsPerRow: ids.length ? run.calls / ids.length : 0,
    rateLimited: run.rateLimited,
    latencyP50Ms: percentile(lat.values, 50),
    latencyP95Ms: percentile(lat.values, 95),
    lost: lat.lost,
    created: simCountAfter - simCountBefore,
  };
}
