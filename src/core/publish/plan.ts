import { z } from "zod";
import type { Queryable } from "../db/transaction.ts";

const PlanRow = z.object({
  action: z.string(),
  key: z.string(),
  record_id: z.string().nullable(),
  changes: z.record(z.string(), z.unknown()),
  problems: z.array(z.string()).nullable(),
});
type PlanRow = z.infer<typeof PlanRow>;

const Publication = z.object({ name: z.string(), source: z.string(), object_type: z.string(), match_on: z.string(), mode: z.string() });

export interface PublicationPlan {
  publication: z.infer<typeof Publication>;
  rows: PlanRow[];
}

/** What the next run of a publication would send (hubsync.plan): reads the database only. */
export async function planPublication(db: Queryable, name: string): Promise<PublicationPlan> {
  const rows = (await db.query(`select * from hubsync.plan($1)`, [name])).rows.map((r) => PlanRow.parse(r));
  const publication = Publication.parse(
    (await db.query(`select name, source::text, object_type, match_on, mode from hubsync.publication_config where name = $1`, [name])).rows[0],
  );
  return { publication, rows };
}

/** How many of the rows are listed one by one. */
const LISTED = 20;

export function renderPlan(plan: PublicationPlan): string {
  const { publication: p, rows } = plan;
  const lines = [`publication ${p.name}: ${p.source} -> ${p.object_type} (${p.mode}, matched on ${p.match_on})`];
  if (rows.length === 0) return `${lines[0]}\nnothing to send: every row is as last sent\n`;
  const refused = rows.filter((r) => r.problems?.length);
  const count = (action: string) => rows.filter((r) => (action === "clear" ? r.action.startsWith("clear") : r.action === action) && !r.problems?.length).length;
  lines.push(`${rows.length} row(s) to send: ${count("create")} create(s), ${count("update")} update(s), ${count("archive")} archive(s), ${count("clear")} clear(s)`);
  if (refused.length > 0) {
    lines.push(`${refused.length} row(s) HubSpot would refuse by its property rules:`);
    for (const r of refused) for (const problem of r.problems!) lines.push(`  ${r.key}: ${problem}`);
  }
  const ok = rows.filter((r) => !r.problems?.length);
  for (const r of ok.slice(0, LISTED)) {
    lines.push(`  ${r.action.padEnd(8)} ${r.key}${r.record_id ? ` (record ${r.record_id})` : ""}  ${JSON.stringify(r.changes)}`);
  }
  if (ok.length > LISTED) lines.push(`  … and ${ok.length - LISTED} more`);
  lines.push("dry run: nothing was sent");
  return lines.join("\n") + "\n";
}
