import { CHANGE_KINDS } from "./changes.ts";
import { totalMade, type SoakResults } from "./run-soak.ts";

/** The soak's report: the same figures as text (stdout) and as markdown (bench/soak-results.md). */

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const secs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(1)} s`);
const ms = (n: number | null) => (n === null ? "—" : n >= 10_000 ? secs(n) : `${int(n)} ms`);
const pct = (part: number, whole: number) => (whole ? `${((part / whole) * 100).toFixed(1)}%` : "—");

interface Row {
  label: string;
  value: string;
}

function figures(r: SoakResults): Row[] {
  const o = r.options;
  const t = r.traffic;
  const f = r.trafficWithFaults;
  const made = totalMade(r.changes);
  const perMinute = r.changeMs ? (made / r.changeMs) * 60_000 : 0;
  const deaths = r.worker.deaths;
  const killed = deaths.filter((d) => d.killed).length;
  return [
    { label: "result", value: r.ok ? "PASS: every record matches, nothing lost or duplicated" : `FAIL: ${r.problems.join("; ")}` },
    {
      label: "set-up",
      value: `${int(o.size)}-record portal (${int(r.initialCopy.records)} of the synced types, copied in ${secs(r.initialCopy.ms)}), ${o.tier} tier (${r.limitPer10s}/10 s), latency ${o.latencyMs.min}–${o.latencyMs.max} ms, index lag ${o.indexLagMs} ms, faults ${(o.faults * 100).toFixed(1)}%`,
    },
    { label: "changes", value: `${int(made)} in ${secs(r.changeMs)} (${perMinute.toFixed(0)}/min), ${int(skippedTotal(r))} skipped (target gone), ${r.changes.errors} failed` },
    { label: "API calls", value: `${int(t.requests)} (${int(f.requests)} while changes ran, ${made ? (f.requests / made).toFixed(2) : "—"} per change)` },
    { label: "calls went to", value: t.topEndpoints.map((e) => `${e.endpoint} ${int(e.calls)}`).join(", ") || "—" },
    { label: "429s", value: int(t.rateLimited) },
    {
      label: "faults injected",
      value: `${int(f.faults)} (${pct(f.faults, f.requests)} of calls): ${int(f.serverErrors)} × 5xx, ${int(f.noAnswer)} without an answer (timeouts, dropped connections, lost responses)`,
    },
    { label: "other errors", value: `${int(t.internalErrors)} × 500, ${int(t.clientErrors)} × 4xx other than 429` },
    { label: "worker restarts", value: `${r.worker.restarts}${killed ? ` (${killed} killed by the soak)` : ""}` },
    { label: "outbox", value: `${int(r.outbox.total)} changes: ${int(r.outbox.sent)} sent, ${int(r.outbox.superseded)} folded into later ones, ${int(r.outbox.rejected)} rejected${r.checks?.rejectedGone ? ` (${int(r.checks.rejectedGone)} of them changes to records a HubSpot user had just archived or merged)` : ""}; ${int(r.outbox.conflicts)} conflicts settled; commit → sent p50 ${ms(r.outbox.sendP50Ms)}, p95 ${ms(r.outbox.sendP95Ms)}` },
    ...(r.webhooks
      ? [
          {
            label: "webhooks",
            value:
              `${int(r.webhooks.events)} events in ${int(r.webhooks.requests)} requests (${int(r.webhooks.failed)} failed, ${int(r.webhooks.retried)} retried, ${int(r.webhooks.dropped)} batches dropped); ` +
              `inbox: ${int(r.webhooks.applied)} applied, ${int(r.webhooks.ignored)} ignored, ${int(r.webhooks.failedApply)} failed, ${int(r.webhooks.waiting)} waiting; ` +
              `change → row p50 ${ms(r.webhooks.lagP50Ms)}, p95 ${ms(r.webhooks.lagP95Ms)}`,
          },
        ]
      : []),
    {
      label: "convergence",
      value: r.convergence.converged
        ? `${secs(r.convergence.ms)} after the last change (${r.convergence.rounds} catch-up round${r.convergence.rounds === 1 ? "" : "s"})`
        : `not converged after ${secs(r.convergence.ms)}${r.convergence.error ? ` (${r.convergence.error})` : ""}`,
    },
    { label: "comparison", value: comparisonLine(r) },
  ];
}

/** The comparison without the tables that matched (the markdown lists every table). */
const comparisonLine = (r: SoakResults) => r.comparison?.short ?? "not run";

const tableName = (t: string) => t.replace(/"/g, "").replace(/^hubspot\./, "");

function skippedTotal(r: SoakResults): number {
  return Object.values(r.changes.byKind).reduce((n, k) => n + k.skipped, 0);
}

function changeRows(r: SoakResults): Array<[string, number, number]> {
  return CHANGE_KINDS.map((k) => [k, r.changes.byKind[k].made, r.changes.byKind[k].skipped]);
}

function examples(r: SoakResults): string[] {
  const out: string[] = [];
  for (const t of r.comparison?.tables ?? []) for (const e of t.examples) out.push(`${tableName(t.table)}: ${e}`);
  for (const d of r.checks?.duplicateCreates.slice(0, 5) ?? []) out.push(`${d.type}: ${d.marker} created ${d.count} times`);
  for (const x of r.checks?.rejected.slice(0, 5) ?? []) out.push(`${x.type} ${x.op} rejected: ${x.message}`);
  out.push(...r.changes.errorExamples.slice(0, 5));
  out.push(...r.convergence.earlierRounds.map((x) => `before convergence, ${x}`));
  return out;
}

export function renderText(r: SoakResults): string {
  const rows = figures(r);
  const w = Math.max(...rows.map((x) => x.label.length));
  const lines = ["hubsync soak", ...rows.map((x) => `  ${x.label.padEnd(w)}  ${x.value}`), "", "  changes by kind (made / skipped):"];
  for (const [k, made, skipped] of changeRows(r)) lines.push(`    ${k.padEnd(22)} ${int(made).padStart(7)} ${skipped ? `/ ${int(skipped)}` : ""}`);
  const ex = examples(r);
  if (ex.length) lines.push("", "  examples:", ...ex.map((e) => `    ${e}`));
  return lines.join("\n");
}

export function renderMarkdown(r: SoakResults): string {
  const rows = figures(r);
  const lines = [
    `# hubsync soak — ${r.startedAt.slice(0, 16).replace("T", " ")} UTC`,
    "",
    `\`hubsync soak --minutes ${r.options.minutes} --tier ${r.options.tier} --faults ${r.options.faults} --size ${r.options.size} --rate ${r.options.rate}${r.options.webhooks ? " --webhooks" : ""}${r.options.killEverySeconds ? ` --kill-every ${r.options.killEverySeconds}` : ""}\`` +
      ` on Node ${r.machine.node}, PostgreSQL ${r.machine.postgres}, ${r.machine.cpus} CPUs; ${secs(r.elapsedMs)} in all.`,
    "",
    "| | |",
    "|---|---|",
    ...rows.map((x) => `| ${x.label} | ${x.value.replace(/\|/g, "\\|")} |`),
    "",
    "| change | made | skipped |",
    "|---|---:|---:|",
    ...changeRows(r).map(([k, made, skipped]) => `| ${k} | ${int(made)} | ${int(skipped)} |`),
  ];
  if (r.comparison) {
    lines.push("", "| table | in HubSpot | missing | extra | duplicated | archived, still present | mismatched values |", "|---|---:|---:|---:|---:|---:|---:|");
    for (const t of r.comparison.tables) {
      lines.push(`| ${tableName(t.table)} | ${int(t.expected)} | ${t.missing} | ${t.extra} | ${t.duplicated} | ${t.archivedPresent} | ${t.mismatched} |`);
    }
  }
  const ex = examples(r);
  if (ex.length) lines.push("", "Examples:", "", ...ex.map((e) => `- ${e.replace(/\|/g, "\\|")}`));
  return lines.join("\n") + "\n";
}
