import type { BackfillFigures } from "./scenarios/backfill.ts";
import type { IncrementalFigures } from "./scenarios/incremental.ts";
import { TRIGGER_GOALS, type TriggerFigures } from "./scenarios/trigger.ts";
import type { CommitStream, WriteBackFigures } from "./scenarios/write-back.ts";
import type { WriteBackLoadFigures } from "./scenarios/write-back-load.ts";
import type { WebhookLatencyFigures } from "./scenarios/webhooks.ts";
import type { Tier } from "../shared/sim.ts";
import type { CopyCheck } from "./verify.ts";
import type { Channel } from "./bound.ts";
import type { ScaleFigures } from "./scenarios/scale.ts";
import type { WorkerCountFigures } from "./scenarios/workers.ts";

/** Everything one `hubsync bench` run measured; bench/results.json is this, bench/results.md its table. */
export interface TierResults {
  tier: Tier;
  limitPer10s: number;
  maxRecordsPerSecond: number;
  /** Records/s HubSpot's published limits allow through the channels that can carry this catalog (bound.ts). */
  boundRecordsPerSecond: number;
  channels: Channel[];
  /** How the bound was computed, in words and numbers. */
  boundArithmetic: string;
  backfill?: { hubsync?: BackfillFigures; naive?: BackfillFigures };
  incremental?: { hubsync?: IncrementalFigures; naive?: IncrementalFigures };
  writeBack?: { stream: CommitStream; hubsync?: WriteBackFigures; naive?: WriteBackFigures };
  /** hubsync's same commit stream while a backfill, incremental pulls and association refreshes run. */
  writeBackUnderLoad?: WriteBackLoadFigures;
  /** Changes made in HubSpot arriving through webhooks alone (the naive script has none). */
  webhooks?: { hubsync?: WebhookLatencyFigures };
  checks: CopyCheck[];
  errors: string[];
}

export interface Goal {
  name: string;
  target: string;
  measured: string;
  met: boolean | null;
}

export interface BenchResults {
  quick: boolean;
  /** The parts run, when not all of them (`--only`). */
  only?: string[];
  startedAt: string;
  elapsedMs: number;
  machine: { node: string; postgres: string; cpus: number };
  latencyMs: { min: number; max: number };
  sizes: { backfillRecords: number; changes: number; pushRows: number; naivePushSample: number };
  tiers: TierResults[];
  trigger: TriggerFigures | null;
  triggerError?: string;
  goals: Goal[];
  /** False when a run lost or duplicated a record, or a scenario failed. */
  ok: boolean;
  /** Properties the portal defines per synced type (the realistic catalog). */
  propertiesPerType?: Record<string, number>;
  /** The million-record run (null: not run, see scaleNote). */
  scale?: ScaleFigures | null;
  scaleNote?: string;
  /** The backfill by 1, 2 and 4 worker processes (empty: not run, see workersNote). */
  workers?: WorkerCountFigures[];
  workersNote?: string;
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const dec = (n: number, d = 3) => n.toFixed(d);
const pct = (n: number) => `${(n * 100).toFixed(1)}%`;
const secs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(1)} s`);
const msOrDash = (n: number | null | undefined) => (n === null || n === undefined ? "—" : n >= 10_000 ? secs(n) : `${int(n)} ms`);
const mb = (b: number | null) => (b === null ? "—" : `${(b / 1024 / 1024).toFixed(0)} MB`);

export function evaluateGoals(r: Omit<BenchResults, "goals" | "ok">): Goal[] {
  const goals: Goal[] = [];
  for (const t of r.tiers) {
    const b = t.backfill?.hubsync;
    goals.push({
      name: `backfill at the rate-limited maximum, no 429s (${t.tier})`,
      target: "≥ 95% of the bound, 0 × 429",
      measured: b ? `${pct(b.ratioToBound)} of ${int(t.boundRecordsPerSecond)}/s, ${b.rateLimited} × 429` : "not measured",
      met: b ? b.ratioToBound >= 0.95 && b.rateLimited === 0 : null,
    });
  }
  const large = r.tiers.map((t) => t.backfill?.hubsync).filter((b): b is BackfillFigures => !!b && b.peakRssBytes !== null);
  const peak = large.length ? Math.max(...large.map((b) => b.peakRssBytes ?? 0)) : null;
  // a run of only the scale or worker-count parts has no per-tier backfill to judge
  if (r.tiers.length > 0) goals.push({
    name: `peak worker memory, ${int(Math.max(0, ...large.map((b) => b.records)))}-record backfill`,
    target: "< 300 MB",
    measured: mb(peak),
    met: peak === null ? null : peak < 300 * 1024 * 1024,
  });
  for (const t of r.tiers) {
    const w = t.writeBack?.hubsync;
    goals.push({
      name: `API calls per pushed row (${t.tier})`,
      target: "≤ 0.011",
      measured: w ? dec(w.callsPerRow, 4) : "not measured",
      met: w ? w.callsPerRow <= 0.011 : null,
    });
    goals.push({
      name: `commit-to-request p95 (${t.tier})`,
      target: "< 1 s",
      measured: w ? msOrDash(w.latencyP95Ms) : "not measured",
      met: w && w.latencyP95Ms !== null ? w.latencyP95Ms < 1000 : null,
    });
    const l = t.writeBackUnderLoad;
    goals.push({
      name: `commit-to-request p95 during a backfill, pulls and association refreshes (${t.tier})`,
      target: "< 1 s, 0 × 429, none lost",
      measured: l ? `${msOrDash(l.latencyP95Ms)}, ${l.rateLimited} × 429, ${l.lost} lost` : "not measured",
      met: l && l.latencyP95Ms !== null ? l.latencyP95Ms < 1000 && l.rateLimited === 0 && l.lost === 0 : null,
    });
    const h = t.webhooks?.hubsync;
    goals.push({
      name: `webhook change-to-row p95 (${t.tier})`,
      target: "< 1 s, none lost",
      measured: h ? `${msOrDash(h.latencyP95Ms)}, ${h.lost} lost` : "not measured",
      met: h && h.latencyP95Ms !== null ? h.latencyP95Ms < 1000 && h.lost === 0 : null,
    });
  }
  goals.push(...scaleGoals(r));
  goals.push({
    name: "trigger overhead on a single-row UPDATE",
    target: `≤ ${TRIGGER_GOALS.singleRow * 100}%`,
    measured: r.trigger ? `+${pct(r.trigger.overhead)}` : "not measured",
    met: r.trigger ? r.trigger.overhead <= TRIGGER_GOALS.singleRow : null,
  });
  const multi = r.trigger?.multiRow;
  if (multi) {
    goals.push({
      name: `trigger overhead on a ${multi.rows}-row UPDATE`,
      target: `≤ ${TRIGGER_GOALS.multiRow * 100}%`,
      measured: `+${pct(multi.overhead)}`,
      met: multi.overhead <= TRIGGER_GOALS.multiRow,
    });
  }
  return goals;
}

/** Nothing done twice by a run of the scale-out scenario: no page read again, no more records read than copied, no failed run. */
const nothingTwice = (w: WorkerCountFigures) => w.repeatedReads === 0 && w.recordsRead <= w.records && w.failedRuns === 0;

/** The scale and scale-out goals, once those scenarios were asked for (a failed one shows as not measured). */
function scaleGoals(r: Omit<BenchResults, "goals" | "ok">): Goal[] {
  const goals: Goal[] = [];
  if (r.scale !== undefined && !(r.scale === null && r.scaleNote && !r.scaleNote.startsWith("failed"))) {
    const s = r.scale;
    goals.push({
      name: `peak worker memory, ${s ? int(s.backfill.records) : "million"}-record backfill (scale, pro)`,
      target: "< 300 MB",
      measured: s ? mb(s.peakWorkerRssBytes) : "not measured",
      met: s && s.peakWorkerRssBytes !== null ? s.peakWorkerRssBytes < 300 * 1024 * 1024 : null,
    });
  }
  const w = r.workers ?? [];
  if (w.length > 0 || r.workersNote?.startsWith("failed")) {
    const one = w.find((x) => x.workers === 1) ?? w[0];
    const kept = (x: WorkerCountFigures) => !one || x.recordsPerSecond >= 0.95 * one.recordsPerSecond;
    goals.push({
      name: `scale-out (${w.map((x) => x.workers).join(", ") || "—"} worker processes)`,
      target: "0 × 429, nothing done twice, records/s within 5% of one worker's",
      measured: w.length
        ? w.map((x) => `${x.workers}: ${pct(x.ratioToMax)}, ${x.rateLimited} × 429, ${x.repeatedReads} repeated`).join("; ")
        : "not measured",
      met: w.length ? w.every((x) => x.rateLimited === 0 && nothingTwice(x) && kept(x) && x.check.ok) : null,
    });
  }
  return goals;
}

/** Why a goal can fall short and what would close it — the structural reasons, true whatever the exact figure. */
const SHORTFALL: Array<[prefix: string, why: string]> = [
  [
    "backfill at the rate-limited maximum",
    "hubsync keeps 3% of HubSpot's limit as headroom for other integrations (HUBSYNC_RATE_HEADROOM, default 0.97) and " +
      "adds 100 ms to each 10-second window for the spread of arrival times, so its ceiling on the list/batch channel is " +
      "0.97 × 10 ÷ 10.1 ≈ 96% of the bound; the measured time also includes discovery (properties, schemas) and the worker " +
      "picking up the jobs. A type of 10,000 records or more is read by its list loop and by search readers over " +
      "hs_object_id ranges at once, so the budget stays full while a large type is left; where a search body cannot carry " +
      "the catalog's property names, search gives ids and every record still costs one list or batch call on the shared " +
      "budget. On a machine whose CPUs are busy with other work, writing the pages (hundreds of columns a row) rather than " +
      "HubSpot's limit sets the pace: compare the load average noted beside the run.",
  ],
  [
    "peak worker memory",
    "the live data of a backfill is small (pages of 100 records, written as they arrive); the rest of the peak is V8 " +
      "collecting lazily below its heap limit. `hubsync worker` sets that limit itself (HUBSYNC_MAX_HEAP_MB, default 256 MB " +
      "for the whole V8 heap); with HUBSYNC_MAX_HEAP_MB=0 or a larger value it grows towards Node's own limit, which " +
      "depends on the machine's memory. What would close it: a lower HUBSYNC_MAX_HEAP_MB (the worker's own code and " +
      "libraries take about 100 MB of the resident size outside the heap).",
  ],
  [
    "trigger overhead",
    "the trigger function is generated per table (typed columns compared in one expression, the properties jsonb only " +
      "read by UPDATEs that name it); an UPDATE is logged by a statement trigger, one INSERT ... SELECT for all its rows; " +
      "no BEFORE row trigger is left on the table; a transaction that finds a push job queued adds no job. What is left " +
      "is the outbox itself and the calls around it. Profiled with perf on the pgbench backend: for a single-row UPDATE " +
      "the statement trigger takes about a quarter of the backend's time (starting the executor for an INSERT into a " +
      "table with six indexes, two insert triggers and two checks, then four index entries) and the commit-time " +
      "wake-up (a deferred trigger, a shared advisory lock, one index look-up of the push job) another 7%; for 100 rows " +
      "the outbox's index entries alone are a fifth of the backend's time and its heap a twelfth. What would close it: " +
      "fewer outbox indexes (the (object_type, status) index duplicates the due and local_id ones for pending rows, " +
      "but the status sweep and metrics read it), a staging table without indexes or triggers that the push drains into " +
      "the outbox, or reading changes from logical decoding instead of a trigger (nothing written per row at all).",
  ],
  [
    "webhook change-to-row",
    "an event is stored by the receiver, then applied by a job that re-reads the changed records from HubSpot (within the " +
      "rate budget the pulls and pushes share) on one of the worker's job slots; runs start at least 200 ms apart " +
      "(HUBSYNC_WEBHOOK_APPLY_INTERVAL_MS) so that a steady stream is read in batches. A slot busy with a pull, or the " +
      "budget spent by one, delays the apply.",
  ],
  [
    "scale-out",
    "every process takes its calls from the one rate budget kept in the database, so more processes cannot copy faster " +
      "than HubSpot's limit allows; a shortfall against one worker is the cost of the processes sharing that budget and the jobs.",
  ],
  ["API calls per pushed row", "rows are sent 100 per batch call; a stream of commits smaller than the coalescing window fills batches only partly."],
  [
    "commit-to-request p95 during",
    "pushes run on worker slots of their own (HUBSYNC_PUSH_CONCURRENCY) and take the next free slot of the rate window " +
      "ahead of backfills and pulls, within half of each window (HUBSYNC_PUSH_RATE_SHARE), so neither the job slots nor the " +
      "budget hold them back; with the window full a push still waits for one request to leave it (about 100 ms on free, " +
      "55 ms on pro) per batch call. The rest of the tail is the push's own pace: one push per object type at a time sends " +
      "its batches in order and commits each round, and the backfill's writes and the pulls' upserts compete with it for " +
      "the machine (the worker, PostgreSQL and the simulator share its cores), so a stream faster than one round queues in " +
      "the outbox.",
  ],
  [
    "commit-to-request",
    "a push waits its 150 ms coalescing window, then a rate-budget slot (pushes have worker slots of their own and go " +
      "first in the rate window). The tail is the push's own pace: one push per object type at a time sends its batches " +
      "in order, so on a busy machine a stream faster than one push round queues in the outbox.",
  ],
];

function closingNotes(goals: Goal[]): string {
  const unmet = goals.filter((g) => g.met === false);
  if (unmet.length === 0) return "Every goal is met.";
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const g of unmet) {
    const entry = SHORTFALL.find(([prefix]) => g.name.startsWith(prefix));
    if (!entry || seen.has(entry[0])) continue;
    seen.add(entry[0]);
    const names = unmet.filter((u) => u.name.startsWith(entry[0])).map((u) => `${u.name}: ${u.measured}`);
    lines.push(`- **${names.join("; ")}** (goal ${g.target}): ${entry[1]}`);
  }
  return lines.join("\n");
}

type Row = [measure: string, tier: string, hubsync: string, naive: string, goal: string];

function tierRows(t: TierResults, sizes: BenchResults["sizes"]): Row[] {
  const rows: Row[] = [];
  const bh = t.backfill?.hubsync;
  const bn = t.backfill?.naive;
  const tier = `${t.tier} (${t.limitPer10s}/10 s)`;
  const both = <T,>(h: T | undefined, n: T | undefined, f: (x: T) => string): [string, string] => [h ? f(h) : "—", n ? f(n) : "—"];
  rows.push(["Backfill: records copied (+ association rows)", tier, ...both(bh, bn, (b) => `${int(b.records)} (+${int(b.associations)})`), `≥ ${int(sizes.backfillRecords)}`]);
  rows.push(["Backfill: time until every record is copied", tier, ...both(bh, bn, (b) => secs(b.ms)), ""]);
  rows.push(["Backfill: time until associations are copied too", tier, ...both(bh, bn, (b) => secs(b.totalMs)), ""]);
  rows.push([
    `Backfill: records/s (÷ bound ${int(t.boundRecordsPerSecond)}/s)`,
    tier,
    ...both(bh, bn, (b) => `${int(b.recordsPerSecond)}/s (${pct(b.ratioToBound)})`),
    "≥ 95%",
  ]);
  rows.push(["Backfill: API calls per record (records and associations)", tier, ...both(bh, bn, (b) => dec(b.callsPerRecord, 4)), ""]);
  rows.push(["Backfill: 429s received", tier, ...both(bh, bn, (b) => int(b.rateLimited)), "0"]);
  rows.push(["Backfill: peak memory (RSS)", tier, bh ? mb(bh.peakRssBytes) + " (worker process)" : "—", "— (shares the bench process)", "< 300 MB"]);
  const ih = t.incremental?.hubsync;
  const inn = t.incremental?.naive;
  rows.push([`Incremental pull of ${int(sizes.changes)} changes: time to converge`, tier, ...both(ih, inn, (i) => secs(i.convergeMs)), ""]);
  rows.push(["Incremental pull: API calls per change", tier, ...both(ih, inn, (i) => dec(i.callsPerChange, 4)), ""]);
  rows.push(["Incremental pull: 429s", tier, ...both(ih, inn, (i) => int(i.rateLimited)), "0"]);
  const wh = t.writeBack?.hubsync;
  const wn = t.writeBack?.naive;
  const sample = wn?.sampledRows ? ` (sample of ${int(wn.sampledRows)} rows)` : "";
  rows.push([`Write-back of ${int(sizes.pushRows)} updated rows: API calls per row`, tier, wh ? dec(wh.callsPerRow, 4) : "—", wn ? dec(wn.callsPerRow, 4) + sample : "—", "≤ 0.011"]);
  rows.push(["Write-back: time to drain after the last commit", tier, wh ? secs(wh.drainMs) : "—", wn ? `${secs(wn.drainMs)} (scaled from the sample)` : "—", ""]);
  rows.push([
    "Write-back: commit-to-request latency p50 / p95",
    tier,
    wh ? `${msOrDash(wh.latencyP50Ms)} / ${msOrDash(wh.latencyP95Ms)}` : "—",
    wn ? `${msOrDash(wn.latencyP50Ms)} / ${msOrDash(wn.latencyP95Ms)}${sample}` : "—",
    "p95 < 1 s",
  ]);
  rows.push(["Write-back: 429s / rows lost / records created", tier, ...both(wh, wn, (w) => `${w.rateLimited} / ${w.lost} / ${w.created}`), "0 / 0 / 0"]);
  const wl = t.writeBackUnderLoad;
  if (wl) {
    const runs = Object.entries(wl.load.runs).map(([kind, n]) => `${kind} ${n}`).join(", ") || "none";
    rows.push([
      `Write-back during a backfill of ${wl.load.backfillTypes.join(", ")}, pulls and association refreshes: commit-to-request p50 / p95`,
      tier,
      `${msOrDash(wl.latencyP50Ms)} / ${msOrDash(wl.latencyP95Ms)}`,
      "—",
      "p95 < 1 s",
    ]);
    rows.push(["Write-back under load: 429s / rows lost / records created", tier, `${wl.rateLimited} / ${wl.lost} / ${wl.created}`, "—", "0 / 0 / 0"]);
    rows.push([
      "Write-back under load: calls per 10 s, push / everything else (runs started meanwhile)",
      tier,
      `${dec(wl.load.pushCallsPer10s, 0)} / ${dec(wl.load.otherCallsPer10s, 0)} (${runs}; ${int(wl.load.changesInHubSpot)} edits in HubSpot; backfill ${wl.load.backfillRunningAtEnd ? "still running" : "done"} at the end)`,
      "—",
      "",
    ]);
    const pr = wl.load.pushRounds;
    if (pr?.rounds)
      rows.push([
        "Write-back under load: push rounds, and each step's time per round: claim / check / send to HubSpot / commit",
        tier,
        `${int(pr.rounds)} rounds: ${int(pr.claimMs)} / ${int(pr.checkMs)} / ${int(pr.sendMs)} / ${int(pr.commitMs)} ms`,
        "—",
        "",
      ]);
  }
  const hh = t.webhooks?.hubsync;
  if (hh) {
    rows.push([`Webhooks: ${int(hh.changes)} changes made in HubSpot, change-to-row latency p50 / p95 / max`, tier, `${msOrDash(hh.latencyP50Ms)} / ${msOrDash(hh.latencyP95Ms)} / ${msOrDash(hh.maxMs)}`, "—", "p95 < 1 s"]);
    rows.push(["Webhooks: changes lost / failed deliveries / API calls per change", tier, `${hh.lost} / ${hh.failedDeliveries} / ${dec(hh.callsPerChange, 2)}`, "—", "0 / 0 / —"]);
  }
  for (const c of t.checks) {
    rows.push([`Lost / duplicated / extra records (${c.name})`, tier, "", "", "0 / 0 / 0"]);
    const last = rows[rows.length - 1]!;
    const cell = `${c.missing} / ${c.duplicated} / ${c.extra} of ${int(c.expected)}`;
    if (c.name.startsWith("naive")) last[3] = cell;
    else last[2] = cell;
  }
  for (const e of t.errors) rows.push([`**failed**: ${e.replace(/\|/g, "\\|").slice(0, 300)}`, tier, "", "", ""]);
  return rows;
}

/** The portal's width, for the header: how many properties each synced type has. */
function catalogLine(r: BenchResults): string {
  const p = r.propertiesPerType;
  if (!p || Object.keys(p).length === 0) return "";
  return `\nPortal: the realistic catalog — properties per type: ${Object.entries(p).map(([t, n]) => `${t} ${int(n)}`).join(", ")}.`;
}

function scaleSection(r: BenchResults): string {
  if (r.scale === undefined) return "";
  const s = r.scale;
  if (!s) return `\n## Scale: a million records\n\nNot measured: ${(r.scaleNote ?? "not run").replace(/\|/g, "\\|").slice(0, 300)}.\n`;
  const b = s.backfill;
  const c = s.check;
  const rows: Array<[string, string, string]> = [
    ["Records copied (+ association rows)", `${int(b.records)} (+${int(b.associations)})`, `${int(s.contacts)} contacts and a small portal around them`],
    ["Time until every record is copied / associations too", `${secs(b.ms)} / ${secs(b.totalMs)}`, ""],
    [`Records/s (÷ max ${int((s.limitPer10s * 100) / 10)}/s)`, `${int(b.recordsPerSecond)}/s (${pct(b.ratioToMax)})`, "≥ 95%"],
    ["API calls per record / 429s", `${dec(b.callsPerRecord, 4)} / ${int(b.rateLimited)}`, "— / 0"],
    ["Worker peak memory (RSS)", mb(s.peakWorkerRssBytes), "< 300 MB"],
    ["Worker heap limit (HUBSYNC_MAX_HEAP_MB)", s.heapLimitMb === null ? "Node's own" : `${int(s.heapLimitMb)} MB`, ""],
    ["Bench process peak RSS (holds the simulator and its portal)", mb(s.peakBenchRssBytes), ""],
    ["Seeding the simulator", secs(s.seedMs), ""],
    ["Lost / duplicated / extra records", c ? `${c.missing} / ${c.duplicated} / ${c.extra} of ${int(c.expected)}` : "—", "0 / 0 / 0"],
  ];
  const samples = s.samples.map((x) => `| ${secs(x.atMs)} | ${mb(x.workerRssBytes)} | ${mb(x.benchRssBytes)} |`);
  return `
## Scale: ${int(s.contacts)} contacts on ${s.tier} (${s.limitPer10s}/10 s)

| measure | hubsync | goal / note |
|---|---|---|
${rows.map((row) => `| ${row.join(" | ")} |`).join("\n")}

Resident memory over the run (sampled every second; these are spread over it, the peak among them):

| since enable_sync | worker RSS | bench process RSS |
|---|---|---|
${samples.join("\n")}
`;
}

function workersSection(r: BenchResults): string {
  const w = r.workers;
  if (w === undefined) return "";
  if (w.length === 0) return `\n## More worker processes\n\nNot measured: ${(r.workersNote ?? "not run").replace(/\|/g, "\\|").slice(0, 300)}.\n`;
  const rows = w.map((x) =>
    [
      int(x.workers),
      int(x.records),
      secs(x.ms),
      `${int(x.recordsPerSecond)}/s (${pct(x.ratioToMax)})`,
      int(x.calls),
      int(x.rateLimited),
      Object.entries(x.runs).map(([k, n]) => `${k} ${n}`).join(", "),
      `${int(x.repeatedReads)} / ${int(x.recordsRead)}`,
      mb(x.peakRssBytes),
      `${x.check.missing} / ${x.check.duplicated} / ${x.check.extra}`,
    ].join(" | "),
  );
  return `
## More worker processes (${w[0]!.records.toLocaleString("en-US")}-record backfill, pro, one database)

| processes | records | time | records/s (÷ max) | API calls | 429s | runs by kind | pages read twice / records read | peak RSS per process | lost / duplicated / extra |
|---|---|---|---|---|---|---|---|---|---|
${rows.map((row) => `| ${row} |`).join("\n")}

What more processes buy: not speed. HubSpot's limit is per portal, and every \`hubsync worker\` takes its calls from the
one rate budget kept in PostgreSQL, so one process already copies at the bound and two or four copy at the same rate,
with no 429 and each job run once (graphile-worker locks a job to one process). They buy availability: when one
process stops or its machine goes away, the others take the next jobs (a job that was running is retried after
graphile-worker's lock timeout). Pages read twice: GET requests for the same page; records read: what the backfill runs
read in all (the copy has \`records\` rows).
`;
}

/** Results written before the count existed have none. */
const logged = (n: number | undefined) => (n === undefined ? "" : `; ${n.toFixed(n < 10 ? 2 : 1)} outbox rows logged per UPDATE`);

export function renderMarkdown(r: BenchResults): string {
  const rows: Row[] = r.tiers.flatMap((t) => tierRows(t, r.sizes));
  if (r.trigger) {
    const t = r.trigger;
    rows.push([
      `Trigger cost: single-row UPDATE by id (${t.tool}, median of rounds of ${t.secondsPerRun} s${logged(t.outboxRowsPerUpdate)})`,
      "—",
      `${t.latencyWithMs.toFixed(3)} ms with write-back (${int(t.tpsWith)} tps)`,
      `${t.latencyWithoutMs.toFixed(3)} ms without (${int(t.tpsWithout)} tps)`,
      "",
    ]);
    rows.push(["Trigger overhead", "—", `+${pct(t.overhead)}`, "", `≤ ${TRIGGER_GOALS.singleRow * 100}%`]);
    const m = t.multiRow;
    if (m) {
      rows.push([
        `Trigger cost: ${m.rows}-row UPDATE by ids (${t.tool}, median of rounds of ${t.secondsPerRun} s${logged(m.outboxRowsPerUpdate)})`,
        "—",
        `${m.latencyWithMs.toFixed(3)} ms with write-back (${int(m.tpsWith)} tps)`,
        `${m.latencyWithoutMs.toFixed(3)} ms without (${int(m.tpsWithout)} tps)`,
        "",
      ]);
      rows.push([`Trigger overhead, ${m.rows} rows`, "—", `+${pct(m.overhead)}`, "", `≤ ${TRIGGER_GOALS.multiRow * 100}%`]);
    }
  } else if (r.triggerError) {
    rows.push([`**failed**: trigger cost: ${r.triggerError.slice(0, 300)}`, "—", "", "", ""]);
  }
  const table = [
    "| measure | tier | hubsync | naive script | goal |",
    "|---|---|---|---|---|",
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
  const goals = [
    "| goal | target | measured | met |",
    "|---|---|---|---|",
    ...r.goals.map((g) => `| ${g.name} | ${g.target} | ${g.measured} | ${g.met === null ? "—" : g.met ? "yes" : "**no**"} |`),
  ].join("\n");
  return `# hubsync bench results

${r.quick ? "**Quick run** (`hubsync bench --quick`: small sizes, a smoke check — not the figures to quote)." : r.only ? `Partial run (\`hubsync bench --only ${r.only.join(",")}\`): the other parts did not run.` : "Full run (`hubsync bench`)."}
Started ${r.startedAt}, took ${secs(r.elapsedMs)}. Node ${r.machine.node}, PostgreSQL ${r.machine.postgres}, ${r.machine.cpus} CPUs (shared with other work).
HubSpot: the bundled simulator at real rate limits, ${r.latencyMs.min}–${r.latencyMs.max} ms per request.${catalogLine(r)}
Result: ${r.ok ? "every copy complete (nothing lost, nothing duplicated)" : "**a run failed, or lost or duplicated records** (see below)"}.

${table}
${workersSection(r)}${scaleSection(r)}
## Goals

${goals}

## Where a goal is not met

${closingNotes(r.goals)}

## How to read this

- **The bound is HubSpot's rate limits**, not CPU or PostgreSQL: the records per second its published limits allow
  through every channel that can carry this portal's property catalog. List pages and batch reads share the 10-second
  limit (free/starter 100, pro/enterprise 190 requests) at 100 records a call; search has its own limit (5 requests a
  second) at 200 records a page, but only for a type whose property names fit in its 3,000-character body. Per tier:
${r.tiers.map((t) => `  - ${t.tier}: ${t.boundArithmetic}.`).join("\n")}
  The ratio is records/s ÷ that bound,
  with records/s measured from the first \`enable_sync\` until every record is in PostgreSQL (discovery included).
  hubsync copies associations after both ends of a pair are live, with the v4 batch endpoints (exempt from the
  10-second limit); that phase is the "associations too" time.
  Every extra call per page (association reads, a second call to fetch properties by POST), any headroom kept for other
  integrations, and every 429 wait moves it down.
- **The naive script** is what people write by hand: one request at a time, GET list pages with every property in the URL
  (and the associations embedded), one INSERT per row, search for the incremental pull, one PATCH per updated row, and
  "sleep a second" on a 429. It runs in the same process against the same simulator and database, never at the same
  time as hubsync's worker (each scenario also starts with a fresh rate-limit window).
- **Write-back** commits the same stream on both sides: ${int(r.sizes.pushRows)} rows as commits of
  ${r.tiers[0]?.writeBack?.stream.batchSize ?? "?"} rows every ${r.tiers[0]?.writeBack?.stream.intervalMs ?? "?"} ms. Latency is
  the simulator's modification time of each record minus the commit time of its UPDATE (same clock). At one PATCH per
  row the naive loop cannot keep up with the rate limit, so it runs on a sample and its drain time is scaled to the full stream.
- **Webhooks**: the worker restarted with its receiver on and no crontab, so only the webhooks bring changes in; edits
  made in the simulator 100–200 ms apart; latency is from just before each edit until PostgreSQL shows its value.
- **Incremental**: changes are made in the simulator (as users editing in HubSpot), then hubsync's pull is enqueued at once
  (in production the worker's minutely cron does it, adding up to 60 s); converge = last change → all in PostgreSQL.
- **Memory**: \`hubsync worker\` runs as its own process, apart from the simulator (which lives in the bench process),
  with the heap limit it sets itself (HUBSYNC_MAX_HEAP_MB, default 256 MB); peak = VmHWM from /proc at the end of the
  backfill. The scale run also samples VmRSS every second over the whole backfill.
- **More worker processes**: 1, 2 and 4 \`hubsync worker\` processes on one fresh database each time, against one
  simulator; the same timing as the backfill above. Runs by kind come from hubsync.runs.
- **Trigger cost**: the same UPDATEs on hubspot.contacts with write-back off (no trigger) and on (outbox trigger): one row
  by primary key, and 100 rows by id at once; alternating rounds (so other load weighs on both), medians of the rounds
  and of each round's ratio.
- Raw figures: bench/results.json.
`;
}

/** The tables for the terminal: the same rows, aligned, each table on its own. */
export function renderText(r: BenchResults): string {
  const blocks = renderMarkdown(r).split("\n\n");
  return blocks
    .map((block) => block.split("\n").filter((l) => l.startsWith("|") && !l.startsWith("|---")))
    .filter((lines) => lines.length > 0)
    .map((lines) => {
      const rows = lines.map((l) => l.slice(2, -2).replace(/\*\*/g, "").split(" | "));
      const widths = rows.reduce<number[]>((w, row) => row.map((c, j) => Math.max(w[j] ?? 0, c.length)), []);
      return rows.map((cells) => cells.map((c, j) => c.padEnd(widths[j] ?? 0)).join("  ").trimEnd()).join("\n");
    })
    .join("\n\n");
}
