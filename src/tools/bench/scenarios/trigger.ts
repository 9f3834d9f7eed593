import { execFile } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type pg from "pg";
import { propertyColumn } from "../../shared/columns.ts";

const run = promisify(execFile);

/**
 * What write-back costs an application's ordinary writes, on hubspot.contacts with write-back on
 * (hubsync's outbox trigger fires) and off (no trigger): single-row UPDATEs by primary key, and
 * UPDATEs of 100 rows at once, each as a ratio. pgbench where the machine has it; otherwise a Node
 * loop of autocommit UPDATEs, and the report says which. Rounds alternate off and on, so that other
 * work on a shared machine weighs on both alike; the figures are the medians of the rounds, and the
 * overhead the median of each round's on/off ratio (a round slowed down by other work counts once).
 */
export interface TriggerWorkload {
  /** Rows each UPDATE changes. */
  rows: number;
  tpsWithout: number;
  tpsWith: number;
  latencyWithoutMs: number;
  latencyWithMs: number;
  /** Extra time per UPDATE with the trigger, as a share of the same UPDATE without it. */
  overhead: number;
  /** Every round's latency (ms), in the order run. */
  roundsWithoutMs: number[];
  roundsWithMs: number[];
  /** Outbox rows logged per UPDATE with write-back on (median of the rounds): `rows` when every UPDATE changed every row it named. */
  outboxRowsPerUpdate?: number;
}

/** The single-row workload's figures at the top level (as before), the 100-row one beside them. */
export interface TriggerFigures {
  tool: "pgbench" | "node loop";
  secondsPerRun: number;
  tpsWithout: number;
  tpsWith: number;
  latencyWithoutMs: number;
  latencyWithMs: number;
  /** Extra time per single-row UPDATE with the trigger, as a share of a plain UPDATE (goal < 25%). */
  overhead: number;
  /** Outbox rows each single-row UPDATE logged (1: every one of them changed its row, as an application's would). */
  outboxRowsPerUpdate?: number;
  /** Rows in hubspot.contacts while measured. */
  tableRows?: number;
  /** UPDATEs of MULTI_ROWS rows by id (goal < 10%). */
  multiRow?: TriggerWorkload;
}

/** The goals: extra time per UPDATE with write-back on. */
export const TRIGGER_GOALS = { singleRow: 0.25, multiRow: 0.1 } as const;

const TYPE = "contacts";
const PROPERTY = "firstname";
const MULTI_ROWS = 100;

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
  transactions: number;
}

async function pgbenchRun(bin: string, url: string, script: string, seconds: number): Promise<Sample> {
  const { stdout } = await run(bin, ["-n", "-c", "1", "-T", String(seconds), "-f", script, url], { maxBuffer: 1 << 20 });
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  const lat = /latency average = ([\d.]+) ms/.exec(stdout);
  const done = /number of transactions actually processed: (\d+)/.exec(stdout);
  if (!tps || !lat || !done) throw new Error(`bench: could not read pgbench's output:\n${stdout}`);
  return { tps: Number(tps[1]), latencyMs: Number(lat[1]), transactions: Number(done[1]) };
}

async function nodeLoopRun(pool: pg.Pool, sql: string, ids: number, seconds: number): Promise<Sample> {
  const client = await pool.connect();
  try {
    const end = Date.now() + seconds * 1000;
    let n = 0;
    const started = process.hrtime.bigint();
    while (Date.now() < end) {
      await client.query(sql, [1 + Math.floor(Math.random() * ids), 1 + Math.floor(Math.random() * 1e9)]);
      n++;
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    return { tps: n / (ms / 1000), latencyMs: ms / n, transactions: n };
  } finally {
    client.release();
  }
}

async function lastOutboxId(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ id: string | null }>(`select max(id) as id from hubsync.outbox`);
  return Number(rows[0]!.id ?? 0);
}

export async function triggerCost(
  pool: pg.Pool,
  url: string,
  opts: { seconds: number; rounds: number; workDir: string; note?: (m: string) => void },
): Promise<TriggerFigures> {
  const note = opts.note ?? (() => {});
  const { table, column } = await propertyColumn(pool, TYPE, PROPERTY);
  // Row n of a lookup table of every record's id: both variants pay for it equally, and pgbench can pick ids at random.
  await pool.query(`drop table if exists public.bench_ids`);
  await pool.query(`create table public.bench_ids as select row_number() over (order by id) as n, id from ${table} where id is not null`);
  await pool.query(`alter table public.bench_ids add primary key (n)`);
  await pool.query(`analyze public.bench_ids`);
  const ids = Number((await pool.query<{ n: string }>(`select count(*) as n from public.bench_ids`)).rows[0]!.n);
  const tableRows = Number((await pool.query<{ n: string }>(`select count(*) as n from ${table}`)).rows[0]!.n);
  if (ids < MULTI_ROWS) throw new Error(`bench: the trigger cost needs at least ${MULTI_ROWS} contacts with ids, found ${ids}`);
  const bin = findPgbench();
  const workloads = [
    { rows: 1, pick: ids, update: `update ${table} set ${column} = 'pgbench ' || :v where id = (select id from public.bench_ids where n = :n);` },
    {
      rows: MULTI_ROWS,
      pick: ids - MULTI_ROWS + 1,
      update: `update ${table} set ${column} = 'pgbench ' || :v where id in (select id from public.bench_ids where n between :n and :n + ${MULTI_ROWS - 1});`,
    },
  ].map((w) => {
    const script = join(opts.workDir, `trigger-update-${w.rows}.sql`);
    // A new value every time (:v): an UPDATE that writes the value a row already has changes
    // nothing, logs nothing, and would measure only the trigger's look at the row. The rounds
    // alternate off and on over the same rows, so a value drawn from the row number alone would
    // mostly be there already.
    writeFileSync(script, `\\set n random(1, ${w.pick})\n\\set v random(1, 1000000000)\n${w.update}\n`);
    const sample = (): Promise<Sample> =>
      bin
        ? pgbenchRun(bin, url, script, opts.seconds)
        : nodeLoopRun(pool, w.update.replace(/:n/g, "$1::bigint").replace(/:v/g, "$2::bigint").replace(/;$/, ""), w.pick, opts.seconds);
    return { ...w, sample, without: [] as Sample[], withTrigger: [] as Sample[], logged: [] as number[] };
  });

  try {
    for (let i = 0; i < opts.rounds; i++) {
      await pool.query(`select hubsync.disable_write_back($1)`, [TYPE]);
      for (const w of workloads) w.without.push(await w.sample());
      await pool.query(`select hubsync.enable_write_back($1)`, [TYPE]);
      for (const w of workloads) {
        const from = await lastOutboxId(pool);
        const s = await w.sample();
        w.withTrigger.push(s);
        const { rows } = await pool.query<{ n: number }>(`select count(*)::int as n from hubsync.outbox where id > $1 and object_type = $2`, [from, TYPE]);
        w.logged.push(rows[0]!.n / Math.max(1, s.transactions));
      }
      for (const w of workloads) {
        const off = w.without[i]!.latencyMs;
        const on = w.withTrigger[i]!.latencyMs;
        note(`trigger cost round ${i + 1}/${opts.rounds}, ${w.rows}-row UPDATE: ${off.toFixed(3)} ms off, ${on.toFixed(3)} ms on (×${(on / off).toFixed(2)})`);
      }
    }
  } finally {
    await pool.query(`select hubsync.enable_write_back($1)`, [TYPE]).catch(() => {});
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  };
  const figures = workloads.map((w): TriggerWorkload => {
    return {
      rows: w.rows,
      tpsWithout: median(w.without.map((x) => x.tps)),
      tpsWith: median(w.withTrigger.map((x) => x.tps)),
      latencyWithoutMs: median(w.without.map((x) => x.latencyMs)),
      latencyWithMs: median(w.withTrigger.map((x) => x.latencyMs)),
      overhead: median(w.withTrigger.map((x, i) => x.latencyMs / w.without[i]!.latencyMs)) - 1,
      roundsWithoutMs: w.without.map((x) => x.latencyMs),
      roundsWithMs: w.withTrigger.map((x) => x.latencyMs),
      outboxRowsPerUpdate: median(w.logged),
    };
  });
  const [single, multi] = figures as [TriggerWorkload, TriggerWorkload];
  for (const [f, goal] of [
    [single, TRIGGER_GOALS.singleRow],
    [multi, TRIGGER_GOALS.multiRow],
  ] as const) {
    note(
      `trigger cost, ${f.rows}-row UPDATE on ${tableRows.toLocaleString("en-US")} rows: ×${(1 + f.overhead).toFixed(2)} ` +
        `(+${(f.overhead * 100).toFixed(1)}%; goal at most +${goal * 100}%: ${f.overhead <= goal ? "met" : "not met"})`,
    );
  }
  return {
    tool: bin ? "pgbench" : "node loop",
    secondsPerRun: opts.seconds,
    tpsWithout: single.tpsWithout,
    tpsWith: single.tpsWith,
    latencyWithoutMs: single.latencyWithoutMs,
    latencyWithMs: single.latencyWithMs,
    overhead: single.overhead,
    outboxRowsPerUpdate: single.outboxRowsPerUpdate,
    tableRows,
    multiRow: multi,
  };
}
