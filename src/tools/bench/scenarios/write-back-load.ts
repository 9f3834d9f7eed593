import { enqueueInDatabase } from "../../../core/jobs.ts";
import { mapLimit, waitFor } from "../../shared/wait.ts";
import { hubsyncWriteBack, PUSH_PATH, type CommitStream, type WriteBackFigures } from "./write-back.ts";
import { workerDied, type TierContext } from "./context.ts";

/** What ran beside the write-back, and how much of the rate limit it used. */
export interface WriteBackLoad {
  /** Types copied again from scratch (hubsync.resync) while the stream ran. */
  backfillTypes: string[];
  /** A backfill was still running when the last change had been answered: the whole stream met one. */
  backfillRunningAtEnd: boolean;
  /** Edits made in HubSpot during the stream, for the incremental pulls to bring in. */
  changesInHubSpot: number;
  /** Runs of hubsync.runs started during the stream, by kind (backfill, incremental, associations, ...). */
  runs: Record<string, number>;
  /** API calls other than the push's batch writes during the stream, per 10 s. */
  otherCallsPer10s: number;
  /** The push's batch writes during the stream, per 10 s. */
  pushCallsPer10s: number;
  /** Until the backfills finished, from the resync. */
  backfillMs: number;
  /** The push runs that ended during the stream: their rounds, and each step's time per round (ms). */
  pushRounds?: { runs: number; rounds: number; claimMs: number; checkMs: number; sendMs: number; commitMs: number };
}

export type WriteBackLoadFigures = WriteBackFigures & { load: WriteBackLoad };

/** Re-copied during the stream: the synced types apart from the one written back (contacts). */
const BACKFILL_TYPES = ["companies", "deals", "tickets"];
/** Every this often during the stream: edits in HubSpot and the pulls the minutely cron would queue. */
const PULL_EVERY_MS = 5_000;
const EDITS_PER_ROUND = 20;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function backfilling(ctx: TierContext): Promise<boolean> {
  const { rows } = await ctx.db.pool.query<{ n: number }>(
    `select count(*)::int as n from hubsync.objects where object_type = any($1) and phase in ('discovering', 'backfilling')`,
    [BACKFILL_TYPES],
  );
  return rows[0]!.n > 0;
}

/**
 * The write-back's commit stream while everything else a worker does runs at once: a backfill of
 * three types (hubsync.resync) filling the general rate window, and every 5 s edits in HubSpot plus
 * the incremental pulls of every type (the minutely cron's job, queued sooner so that the stream
 * meets several), whose association refreshes follow. Pushes have slots and a rate share of their
 * own; this is where that shows.
 */
export async function hubsyncWriteBackUnderLoad(ctx: TierContext, stream: CommitStream, timeoutMs: number): Promise<WriteBackLoadFigures> {
  const pool = ctx.db.pool;
  const resyncAt = Date.now();
  for (const t of BACKFILL_TYPES) await pool.query(`select hubsync.resync($1)`, [t]);
  await waitFor(
    "a backfill job to start",
    async () => {
      const { rows } = await pool.query<{ n: number }>(
        `select count(*)::int as n from hubsync_worker.jobs where task_identifier = 'hubsync_backfill' and locked_at is not null`,
      );
      return rows[0]!.n > 0 ? true : undefined;
    },
    { timeoutMs, intervalMs: 100, failIf: workerDied(ctx) },
  );

  // HubSpot-side edits on contacts the stream does not write (the highest ids; the stream takes the lowest).
  const { rows: editable } = await pool.query<{ id: string }>(`select id from hubspot.contacts where id is not null order by id desc limit 500`);
  const { rows: streamed } = await pool.query<{ id: string }>(`select id from hubspot.contacts where id is not null order by id limit $1`, [stream.rows]);
  const streamedIds = new Set(streamed.map((r) => r.id));
  const editIds = editable.map((r) => r.id).filter((id) => !streamedIds.has(id));
  let edits = 0;
  let running = true;
  const driver = (async () => {
    for (let round = 0; running; round++) {
      const ids = editIds.slice((round * EDITS_PER_ROUND) % Math.max(1, editIds.length)).slice(0, EDITS_PER_ROUND);
      await mapLimit(ids, 8, async (id) => {
        await ctx.sim.update("contacts", id, { jobtitle: `bench-load ${round} ${id}` });
        edits++;
      });
      await enqueueInDatabase(pool, "hubsync_pull_all");
      for (let waited = 0; running && waited < PULL_EVERY_MS; waited += 100) await sleep(100);
    }
  })();

  const started = Date.now();
  let figures: WriteBackFigures;
  try {
    figures = await hubsyncWriteBack(ctx, stream, timeoutMs);
  } finally {
    running = false;
    await driver;
  }
  const ended = Date.now();
  const backfillRunningAtEnd = await backfilling(ctx);
  const requests = (await ctx.sim.requestsSince(started)).filter((r) => r.at <= ended);
  const pushCalls = requests.filter((r) => PUSH_PATH.test(r.path)).length;
  const per10s = (n: number) => (n / Math.max(1, ended - started)) * 10_000;
  const { rows: runs } = await pool.query<{ kind: string; n: number }>(
    `select kind, count(*)::int as n from hubsync.runs where started_at >= to_timestamp($1 / 1000.0) and started_at <= to_timestamp($2 / 1000.0) and kind <> 'push' group by kind order by kind`,
    [started, ended],
  );
  const { rows: pushRuns } = await pool.query<{ runs: number; rounds: number; claim: number; check_: number; send: number; commit_: number }>(
    `select count(*)::int as runs, coalesce(sum((details -> 'rounds' ->> 'rounds')::int), 0)::int as rounds,
            coalesce(sum((details -> 'rounds' ->> 'claimMs')::float8), 0) as claim, coalesce(sum((details -> 'rounds' ->> 'checkMs')::float8), 0) as check_,
            coalesce(sum((details -> 'rounds' ->> 'sendMs')::float8), 0) as send, coalesce(sum((details -> 'rounds' ->> 'commitMs')::float8), 0) as commit_
       from hubsync.runs where kind = 'push' and finished_at >= to_timestamp($1 / 1000.0) and finished_at <= to_timestamp($2 / 1000.0)`,
    [started, ended],
  );
  const pr = pushRuns[0]!;
  const perRound = (ms: number) => (pr.rounds > 0 ? Math.round(ms / pr.rounds) : 0);
  const pushRounds = { runs: pr.runs, rounds: pr.rounds, claimMs: perRound(pr.claim), checkMs: perRound(pr.check_), sendMs: perRound(pr.send), commitMs: perRound(pr.commit_) };
  ctx.note(`  write-back under load: push rounds ${pushRounds.rounds} in ${pushRounds.runs} runs, per round claim ${pushRounds.claimMs} ms, check ${pushRounds.checkMs} ms, send ${pushRounds.sendMs} ms, commit ${pushRounds.commitMs} ms`);
  ctx.note(`  write-back under load: backfill still running at the end: ${backfillRunningAtEnd}; runs ${runs.map((r) => `${r.kind} ${r.n}`).join(", ")}`);
  // The next scenario starts on a quiet worker.
  await waitFor("the backfills to finish", async () => ((await backfilling(ctx)) ? undefined : true), { timeoutMs, intervalMs: 250, failIf: workerDied(ctx) });
  await waitFor(
    "the backfill jobs to finish",
    async () => {
      const { rows } = await pool.query<{ n: number }>(
        `select count(*)::int as n from hubsync_worker.jobs where task_identifier in ('hubsync_backfill', 'hubsync_backfill_associations')`,
      );
      return rows[0]!.n === 0 ? true : undefined;
    },
    { timeoutMs, intervalMs: 250, failIf: workerDied(ctx) },
  );
  return {
    ...figures,
    load: {
      backfillTypes: BACKFILL_TYPES,
      backfillRunningAtEnd,
      changesInHubSpot: edits,
      runs: Object.fromEntries(runs.map((r) => [r.kind, r.n])),
      otherCallsPer10s: per10s(requests.length - pushCalls),
      pushCallsPer10s: per10s(pushCalls),
      backfillMs: Date.now() - resyncAt,
      pushRounds,
    },
  };
}
