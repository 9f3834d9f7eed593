import { createHash } from "node:crypto";
import type pg from "pg";
import type { CrmRecord } from "../hubspot/schemas.ts";
import { convertValue } from "../schema/mapping.ts";
import { quoteIdent } from "../schema/naming.ts";
import { MERGED_IDS_PROPERTY } from "../schema/object-catalog.ts";
import { mapInSlices } from "../slices.ts";
import type { PullTarget } from "./target.ts";

export interface ApplyCounts {
  inserted: number;
  updated: number;
  /** Same data as the row already had (or older than it): not rewritten. */
  unchanged: number;
  merged: number;
}

export function emptyCounts(): ApplyCounts {
  return { inserted: 0, updated: 0, unchanged: 0, merged: 0 };
}

export function addCounts(into: ApplyCounts, more: ApplyCounts): void {
  into.inserted += more.inserted;
  into.updated += more.updated;
  into.unchanged += more.unchanged;
  into.merged += more.merged;
}

/**
 * Hash of what HubSpot sent (sorted keys), so an unchanged record is recognised without comparing
 * columns: each key, NUL, its value (U+0001 for none), NUL. Built as one string and hashed in one
 * call: four hash updates per property were a seventh of the worker's time in a backfill of records
 * with hundreds of properties. The bytes, and so the hashes rows already carry, are the same.
 */
export function recordHash(record: CrmRecord): string {
  const keys = Object.keys(record.properties).sort();
  let text = "";
  for (const k of keys) text += `${k}\u0000${record.properties[k] ?? "\u0001"}\u0000`;
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}

/**
 * Upserts records into the object's table inside the caller's (applying) transaction.
 * A row is only rewritten when HubSpot's copy is at least as new (updated_at) and differs
 * (_sync_hash), or when it comes back from being marked archived; never while a local delete of
 * it is on its way to HubSpot (or got there after this copy was read). Records that say they absorbed
 * others (hs_merged_object_ids) go through hubsync._apply_merges first: a merged-away row takes the
 * surviving id (the others leave), local changes waiting for an old id follow it, and the record's
 * values are then written over that row like any pulled change.
 */
export async function applyRecords(
  client: pg.PoolClient,
  target: PullTarget,
  records: CrmRecord[],
  /**
   * When the records were read from HubSpot (database clock), if the caller knows. A local delete
   * sent before that is not undone by this copy: the record is live after it, so it was restored
   * (restores do not move updatedAt, so updatedAt alone would keep such a record out for good).
   */
  readAt?: Date,
): Promise<ApplyCounts> {
  const counts = emptyCounts();
  if (records.length === 0) return counts;
  // The same id twice in one batch (search pages overlap): keep the newest.
  const newest = new Map<string, CrmRecord>();
  for (const r of records) {
    const seen = newest.get(r.id);
    if (!seen || Date.parse(r.updatedAt) >= Date.parse(seen.updatedAt)) newest.set(r.id, r);
  }
  // each record's JSON on its own, a slice at a time: a page's worth in one go holds the event loop
  // for tens of milliseconds (src/core/slices.ts)
  const docs = await mapInSlices([...newest.values()], (r) => {
    const doc: Record<string, unknown> = {
      id: r.id,
      properties: r.properties,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
      _sync_hash: recordHash(r),
    };
    target.columns.forEach((c, i) => {
      doc[`c${i}`] = convertValue(r.properties[c.property], c.pgType);
    });
    return JSON.stringify(doc);
  });
  // Before the upsert: the surviving record then updates the re-keyed row (conflict policy and all)
  // instead of arriving as a new row next to it.
  counts.merged = await applyMerges(client, target, [...newest.values()]);
  const cols = target.columns.map((c) => quoteIdent(c.column));
  const defs = target.columns.map((c, i) => `c${i} ${c.pgType}`);
  const sql = `
    insert into ${target.table} as t (id, properties, created_at, updated_at, archived_at, _sync_hash, _sync_inserted_at, _sync_updated_at${cols.map((c) => `, ${c}`).join("")})
    select x.id, x.properties, x.created_at, x.updated_at, null, x._sync_hash, now(), now()${target.columns.map((_, i) => `, x.c${i}`).join("")}
      from jsonb_to_recordset($1::jsonb) as x(id text, properties jsonb, created_at timestamptz, updated_at timestamptz, _sync_hash text${defs.map((d) => `, ${d}`).join("")})
     -- a record read before a local DELETE reached HubSpot must not bring the deleted row back
     where not exists (select from hubsync.outbox ob where ob.object_type = $2 and ob.record_id = x.id and ob.op = 'archive'
                          and (ob.status in ('pending', 'in_flight') or (ob.status = 'sent' and ob.sent_at >= coalesce($3::timestamptz, x.updated_at))))
    on conflict (id) do update set
      properties = excluded.properties, created_at = excluded.created_at, updated_at = excluded.updated_at, archived_at = null,
      _sync_hash = excluded._sync_hash, _sync_updated_at = now()${cols.map((c) => `, ${c} = excluded.${c}`).join("")}
    where t.updated_at is null
       or excluded.updated_at > t.updated_at
       or (excluded.updated_at = t.updated_at and (t._sync_hash is distinct from excluded._sync_hash or t.archived_at is not null))
    returning (xmax = 0) as inserted`;
  const { rows } = await client.query<{ inserted: boolean }>(sql, [`[${docs.join(",")}]`, target.objectType, readAt ?? null]);
  for (const r of rows) r.inserted ? counts.inserted++ : counts.updated++;
  counts.unchanged = docs.length - rows.length;
  return counts;
}

async function applyMerges(client: pg.PoolClient, target: PullTarget, records: CrmRecord[]): Promise<number> {
  const merges: Array<{ id: string; merged: string[] }> = [];
  for (const r of records) {
    const merged = (r.properties[MERGED_IDS_PROPERTY] ?? "").split(";").map((s) => s.trim()).filter((id) => id && id !== r.id);
    if (merged.length) merges.push({ id: r.id, merged });
  }
  if (merges.length === 0) return 0;
  const { rows } = await client.query<{ n: number }>(`select hubsync._apply_merges($1, $2::jsonb) as n`, [target.objectType, JSON.stringify(merges)]);
  return rows[0]?.n ?? 0;
}
