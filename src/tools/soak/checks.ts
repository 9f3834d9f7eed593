import type pg from "pg";
import type { BenchSim } from "../shared/sim.ts";
import { SQL_EMAIL_DOMAIN } from "./changes.ts";

/**
 * What a record-by-record comparison cannot see: a SQL INSERT created twice in HubSpot (a lost
 * response retried without the exactly-once key would leave a second, archived or live, record),
 * inserts that never got a HubSpot id, and changes HubSpot rejected.
 */
export interface CopyChecks {
  /** SQL-inserted records HubSpot holds more than once (live or archived), by their unique marker. */
  duplicateCreates: Array<{ type: string; marker: string; count: number }>;
  /** Local rows still without a HubSpot id. */
  unsent: Array<{ type: string; rows: number }>;
  /** Changes HubSpot refused although their record still exists there: the soak's inputs are valid, so each is a problem. */
  rejected: Array<{ type: string; op: string; recordId: string | null; message: string | null }>;
  /**
   * Changes refused because a HubSpot user archived the record (or archived or merged an
   * association's end) meanwhile (the other side deleted it first): expected in a two-way race, and
   * the row leaves the table with the next pull.
   */
  rejectedGone: number;
  problems: string[];
}

/** The marker each SQL-side insert carries in a property nobody edits afterwards. */
const MARKERS: Array<{ type: string; property: string }> = [
  { type: "contacts", property: "email" },
  { type: "companies", property: "domain" },
];

export async function copyChecks(pool: pg.Pool, sim: BenchSim): Promise<CopyChecks> {
  const duplicateCreates: CopyChecks["duplicateCreates"] = [];
  for (const { type, property } of MARKERS) {
    const def = sim.store.resolveType(type)!;
    const seen = new Map<string, number>();
    for (const archived of [false, true]) {
      for (const r of sim.store.recordList(def, archived)) {
        const v = r.properties[property];
        if (v?.endsWith(SQL_EMAIL_DOMAIN)) seen.set(v, (seen.get(v) ?? 0) + 1);
      }
    }
    for (const [marker, count] of seen) if (count > 1) duplicateCreates.push({ type, marker, count });
  }
  const unsent: CopyChecks["unsent"] = [];
  for (const { type } of MARKERS) {
    const { rows } = await pool.query<{ n: string }>(`select count(*) as n from hubspot.${type} where id is null`);
    const n = Number(rows[0]?.n ?? 0);
    if (n) unsent.push({ type, rows: n });
  }
  const { rows: rejectedRows } = await pool.query<{ object_type: string; op: string; record_id: string | null; changes: Record<string, unknown>; error_message: string | null }>(
    `select object_type, op, record_id, changes, error_message from hubsync.outbox where status = 'rejected' order by id`,
  );
  const gone = (type: string, id: string | null, mergedCounts = true) => {
    const def = sim.store.resolveType(type);
    if (!def || !id) return false;
    const r = sim.store.getRecord(def, id);
    if (!r && !mergedCounts && sim.store.mergedInto(def, id)) return false;
    return !r || r.archived;
  };
  /**
   * An update of a record a HubSpot user archived meanwhile, or an association with an end archived
   * or merged away. An update of a merged-away record must reach the record the merge made instead.
   */
  const raced = (r: (typeof rejectedRows)[number]) => {
    if (r.op === "update") return gone(r.object_type, r.record_id, false);
    if (r.op !== "associate" && r.op !== "unassociate") return false;
    const c = r.changes as { fromType?: string; toType?: string; from?: string; to?: string };
    return (!!c.fromType && gone(c.fromType, c.from ?? null)) || (!!c.toType && gone(c.toType, c.to ?? null));
  };
  const rejected = rejectedRows
    .filter((r) => !raced(r))
    .map((r) => ({ type: r.object_type, op: r.op, recordId: r.record_id, message: r.error_message }));
  const rejectedGone = rejectedRows.length - rejected.length;
  const problems: string[] = [];
  if (duplicateCreates.length) problems.push(`${duplicateCreates.length} SQL insert(s) created more than once in HubSpot (e.g. ${duplicateCreates[0]!.marker} × ${duplicateCreates[0]!.count})`);
  for (const u of unsent) problems.push(`${u.rows} row(s) of hubspot.${u.type} never got a HubSpot id`);
  if (rejected.length) problems.push(`${rejected.length} change(s) rejected by HubSpot (e.g. ${rejected[0]!.type} ${rejected[0]!.op}: ${rejected[0]!.message})`);
  return { duplicateCreates, unsent, rejected, rejectedGone, problems };
}
