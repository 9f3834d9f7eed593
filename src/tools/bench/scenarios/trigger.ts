import { execFile } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type pg from "pg";
import { propertyColumn } from "../../shared/columns.ts";

const run = promisify(execFile);

/**
 * What write-back costs an application's ordinary writes: single-row UPDATEs by primary key on
 * hubspot.contacts with write-back on (hubsync's outbox trigger fires) and off (no trigger), as a
 * ratio. pgbench where the machine has it; otherwise a Node loop of autocommit UPDATEs, and the
 * report says which.
 */
export interface TriggerFigures {
  tool: "pgbench" | "node loop";
  secondsPerRun: number;
  tpsWithout: number;
  tpsWith: number;
  latencyWithoutMs: number;
  latencyWithMs: number;
  /** Extra time per UPDATE with the trigger, as a share of a plain UPDATE (goal < 25%). */
  overhead: number;
}

const TYPE = "contacts";
const PROPERTY = "firstname";
const IDS = 10_000;

export function findPgbench(): string | null {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return null;
  for (const v of readdirSync(base).sort((a, b) => Number(b) - Number(a))) {
    const p = join(base, v, "bin", "pgbench");
    if (existsSync(p)) return p;
  }
  return null;
}

interface Sample {
  tps: number;
  latencyMs: number;
}

async function pgbenchRun(bin: string, url: string, script: string, seconds: number): Promise<Sample> {
  const { stdout } = await run(bin, ["-n", "-c", "1", "-T", String(seconds), "-f", script, url], { maxBuffer: 1 << 20 });
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  const lat = /latency average = ([\d.]+) ms/.exec(stdout);
  if (!tps || !lat) throw new Error(`bench: could not read pgbench's output:\n${stdout}`);
  return { tps: Number(tps[1]), latencyMs: Number(lat[1]) };
}

async function nodeLoopRun(pool: pg.Pool, sql: string, seconds: number): Promise<Sample> {
  const client = await pool.connect();
  try {
    const end = Date.now() + seconds * 1000;
    let n = 0;
    const started = process.hrtime.bigint();
    while (Date.now() < end) {
      await client.query(sql, [1 + Math.floor(Math.random() * IDS)]);
      n++;
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    return { tps: n / (ms / 1000), latencyMs: ms / n };
  } finally {
    client.release();
  }
}

export async function triggerCost(pool: pg.Pool, url: string, opts: { seconds: number; rounds: number; workDir: string }): Promise<TriggerFigures> {
  const { table, column } = await propertyColumn(pool, TYPE, PROPERTY);
  // Row n of a small lookup table: both variants pay for it equally, and pgbench can pick ids at random.
  await pool.query(`drop table if exists public.bench_ids`);
  await pool.query(`create table public.bench_ids as select row_number() over (order by id) as n, id from ${table} where id is not null limit ${IDS}`);
  await pool.query(`alter table public.bench_ids add primary key (n)`);
  const update = `update ${table} set ${column} = 'pgbench ' || :n where id = (select id from public.bench_ids where n = :n);`;
  const bin = findPgbench();
  const script = join(opts.workDir, "trigger-update.sql");
  writeFileSync(script, `\\set n random(1, ${IDS})\n${update}\n`);
  const sample = (): Promise<Sample> =>
    bin
      ? pgbenchRun(bin, url, script, opts.seconds)
      : nodeLoopRun(pool, update.replace(/:n/g, "$1::bigint").replace(/;$/, ""), opts.seconds);

  const withTrigger: Sample[] = [];
  const without: Sample[] = [];
  try {
    // Alternating rounds, best of each: other work on a shared machine only ever slows a round down.
    for (let i = 0; i < opts.rounds; i++) {
      await pool.query(`select hubsync.disable_write_back($1)`, [TYPE]);
      without.push(await sample());
      await pool.query(`select hubsync.enable_write_back($1)`, [TYPE]);
      withTrigger.push(await sample());
    }
  } finally {
    await pool.query(`select hubsync.enable_write_back($1)`, [TYPE]).catch(() => {});
  }
  const best = (s: Sample[]) => s.reduce((a, b) => (b.latencyMs < a.latencyMs ? b : a));
  const w = best(withTrigger);
  const wo = best(without);
  return {
    tool: bin ? "pgbench" : "node loop",
    secondsPerRun: opts.seconds,
    tpsWithout: wo.tps,
    tpsWith: w.tps,
    latencyWithoutMs: wo.latencyMs,
    latencyWithMs: w.latencyMs,
    overhead: w.latencyMs / wo.latencyMs - 1,
  };
}
