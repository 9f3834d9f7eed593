/**
 * The demo's live view of the backfill: one bar per object type (rows in PostgreSQL against the
 * records HubSpot holds), association rows, requests, 429s and how much of the rate budget is in
 * use. On a terminal it redraws in place; into a pipe or a CI log it prints a plain line now and
 * then instead of escape codes.
 */
export interface ProgressModel {
  objects: Array<{ name: string; rows: number; expected: number | null; phase: string }>;
  associations: Array<{ table: string; rows: number }>;
  requests: number;
  rateLimited: number;
  /** Reservations in the current window / what hubsync allows itself per window. */
  budget: { inWindow: number; capacity: number; windowMs: number } | null;
  elapsedMs: number;
}

const BAR = 28;
const fmt = (n: number) => n.toLocaleString("en-US");

function bar(fraction: number, width = BAR): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return "█".repeat(full) + "░".repeat(width - full);
}

export function renderLines(m: ProgressModel): string[] {
  const nameWidth = Math.max(10, ...m.objects.map((o) => o.name.length));
  const lines = m.objects.map((o) => {
    const done = o.phase === "live";
    const fraction = o.expected ? o.rows / o.expected : done ? 1 : 0;
    const count = o.expected !== null ? `${fmt(o.rows)} / ${fmt(o.expected)}` : fmt(o.rows);
    return `  ${o.name.padEnd(nameWidth)} ${bar(done && o.expected === null ? 1 : fraction)} ${count.padStart(15)}  ${o.phase}`;
  });
  if (m.associations.length) {
    const total = m.associations.reduce((n, a) => n + a.rows, 0);
    lines.push(`  ${"associations".padEnd(nameWidth)} ${fmt(total)} rows in ${m.associations.length} table(s)`);
  }
  const budget = m.budget
    ? `rate budget ${bar(m.budget.inWindow / m.budget.capacity, 10)} ${m.budget.inWindow}/${m.budget.capacity} per ${Math.round(m.budget.windowMs / 1000)} s`
    : "rate budget —";
  lines.push(`  requests ${fmt(m.requests)} · 429s ${fmt(m.rateLimited)} · ${budget} · ${(m.elapsedMs / 1000).toFixed(1)} s`);
  return lines;
}

/** One line for logs: what changed since the last one is readable without a terminal. */
export function renderPlain(m: ProgressModel): string {
  const objects = m.objects.map((o) => `${o.name} ${fmt(o.rows)}${o.expected !== null ? `/${fmt(o.expected)}` : ""} ${o.phase}`).join(", ");
  const assoc = m.associations.length ? `, associations ${fmt(m.associations.reduce((n, a) => n + a.rows, 0))}` : "";
  return `[${(m.elapsedMs / 1000).toFixed(1)} s] ${objects}${assoc}; requests ${fmt(m.requests)}, 429s ${m.rateLimited}`;
}

export interface ProgressDisplay {
  update(m: ProgressModel): void;
  /** Leaves the last frame on screen (or prints a last plain line). */
  finish(m: ProgressModel): void;
}

export function createProgressDisplay(out: NodeJS.WriteStream, opts: { tty?: boolean; plainEveryMs?: number } = {}): ProgressDisplay {
  const tty = opts.tty ?? out.isTTY === true;
  const plainEveryMs = opts.plainEveryMs ?? 2_000;
  let drawn = 0;
  let lastPlain = 0;
  let lastText = "";
  const draw = (m: ProgressModel) => {
    const lines = renderLines(m);
    let s = drawn ? `\x1b[${drawn}A` : "";
    for (const l of lines) s += `\x1b[2K${l}\n`;
    out.write(s);
    drawn = lines.length;
  };
  return {
    update(m) {
      if (tty) return draw(m);
      const text = renderPlain(m).replace(/^\[[^\]]*\] /, "");
      if (Date.now() - lastPlain >= plainEveryMs && text !== lastText) {
        lastPlain = Date.now();
        lastText = text;
        out.write(`${renderPlain(m)}\n`);
      }
    },
    finish(m) {
      if (tty) draw(m);
      else out.write(`${renderPlain(m)}\n`);
    },
  };
}
