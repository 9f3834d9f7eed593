import { pullNow } from "../../shared/pull-now.ts";
import { quoteIdent } from "../../../core/schema/naming.ts";
import { NAIVE_SCHEMA, naiveIncremental } from "../naive.ts";
import { SYNCED_TYPES, type SyncedType } from "../../shared/objects.ts";
import type { BenchSim } from "../../shared/sim.ts";
import { hubsyncTable } from "../verify.ts";
import { mapLimit, waitFor } from "../../shared/wait.ts";
import { workerDied, type TierContext } from "./context.ts";

export interface IncrementalFigures {
  changes: number;
  /** From the last change made in "HubSpot" until every change is in PostgreSQL. */
  convergeMs: number;
  calls: number;
  callsPerChange: number;
  rateLimited: number;
}

interface ChangeSet {
  type: SyncedType;
  ids: string[];
}

/** `total` records spread over the synced types in proportion to their size, the oldest-modified first. */
export async function pickChanges(sim: BenchSim, total: number): Promise<ChangeSet[]> {
  const all = await Promise.all(SYNCED_TYPES.map(async (type) => ({ type, records: await sim.records(type.type) })));
  const count = all.reduce((n, a) => n + a.records.length, 0);
  let left = Math.min(total, count);
  return all.map((a, i) => {
    const share = i === all.length - 1 ? left : Math.min(left, Math.round((total * a.records.length) / count));
    left -= share;
    const ids = [...a.records].sort((x, y) => x.updatedAt - y.updatedAt).slice(0, share).map((r) => r.id);
    return { type: a.type, ids };
  });
}

/** Edits each record the way a HubSpot user would (through the simulator's control API, not counted as API traffic). */
export async function applyChanges(sim: BenchSim, sets: ChangeSet[], marker: string): Promise<void> {
  const work = sets.flatMap((s) => s.ids.map((id) => ({ s, id })));
  await mapLimit(work, 16, ({ s, id }) => sim.update(s.type.type, id, { [s.type.changeProperty]: `${marker} ${id}` }));
}

async function countMarked(ctx: TierContext, table: string, property: string, marker: string): Promise<number> {
  const { rows } = await ctx.db.pool.query<{ n: string }>(`select count(*) as n from ${table} where properties->>$1 like $2`, [property, `${marker} %`]);
  return Number(rows[0]?.n ?? 0);
}

/**
 * hubsync's incremental pull: changes made in the simulator, then one hubsync_pull job per type
 * (what the minutely cron would enqueue; asking right away leaves the cron's wait out of the figure).
 */
export async function hubsyncIncremental(ctx: TierContext, changes: number, timeoutMs: number): Promise<IncrementalFigures> {
  const sets = await pickChanges(ctx.sim, changes);
  const marker = `bench-inc-${Date.now()}`;
  await applyChanges(ctx.sim, sets, marker);
  await ctx.sim.resetTraffic();
  const changedAt = Date.now();
  for (const s of sets) await pullNow(ctx.db.pool, s.type.type);
  const tables = await Promise.all(sets.map(async (s) => ({ s, table: await hubsyncTable(ctx.db.pool, s.type.type) })));
  const progress = async () => {
    let seen = 0;
    for (const { s, table } of tables) seen += await countMarked(ctx, table, s.type.changeProperty, marker);
    return seen;
  };
  const total = sets.reduce((n, s) => n + s.ids.length, 0);
  await waitFor("the incremental pull to converge", async () => ((await progress()) >= total ? true : undefined), {
    timeoutMs,
    intervalMs: 200,
    failIf: workerDied(ctx),
    describe: async () => `${await progress()} of ${total} changes in PostgreSQL`,
  });
  const convergeMs = Date.now() - changedAt;
  const traffic = await ctx.sim.traffic();
  return { changes: total, convergeMs, calls: traffic.requests, callsPerChange: traffic.requests / total, rateLimited: traffic.rateLimited };
}

/** The naive script's incremental pull of a fresh set of changes: search since the changes began, one upsert per row. */
export async function naiveIncrementalRun(ctx: TierContext, changes: number): Promise<IncrementalFigures> {
  const sets = await pickChanges(ctx.sim, changes);
  const marker = `bench-naive-inc-${Date.now()}`;
  await ctx.sim.resetTraffic();
  const since = Date.now() - 1;
  await applyChanges(ctx.sim, sets, marker);
  const run = await naiveIncremental(ctx.db.pool, ctx.http, SYNCED_TYPES, since);
  let seen = 0;
  for (const s of sets) seen += await countMarked(ctx, `${NAIVE_SCHEMA}.${quoteIdent(s.type.type)}`, s.type.changeProperty, marker);
  const total = sets.reduce((n, s) => n + s.ids.length, 0);
  if (seen < total) ctx.note(`  naive incremental: only ${seen} of ${total} changes arrived`);
  return { changes: total, convergeMs: run.ms, calls: run.calls, callsPerChange: run.calls / total, rateLimited: run.rateLimited };
}
