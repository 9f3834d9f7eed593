import { inApplyingTransaction } from "../db/transaction.ts";
import type { SyncContext } from "../context.ts";
import { loadTarget } from "../pull/target.ts";
import { applyRecords } from "../pull/upsert.ts";
import { MERGED_IDS_PROPERTY } from "../schema/object-catalog.ts";
import type { Rejection } from "./send.ts";

/**
 * Changes sent to a record HubSpot merged away meanwhile. HubSpot's batch update does not take a
 * merged-away id (the input is left out of the answer, reported not found, or the whole batch is
 * refused, depending on the portal), and an archive of one answers as if done; a read of the old
 * id answers the surviving record, which lists the old id in hs_merged_object_ids. For contacts
 * and companies the survivor is a new record with a new id.
 */
export interface MergedAway {
  /** The ids that were merged away: their changes go back to the queue, not to the rejected or the sent. */
  moved: Set<string>;
  /**
   * Writes the surviving records into the table as a pull would (call it once the changes are back
   * in the queue): the local row takes the surviving id, the queued changes follow it, and the
   * survivor's values meet them under the type's conflict policy.
   */
  apply(): Promise<void>;
}

const READ_CHUNK = 100;

/**
 * Whether a refused update is worth checking for a merge. A reason naming one of the properties
 * sent means HubSpot found the record and judged a value: no merge is behind that refusal, and no
 * read is spent on it.
 */
export function mayBeMerged(properties: Record<string, string>, rejection: Rejection): boolean {
  return !Object.keys(properties).some((name) => rejection.message.includes(name));
}

export async function findMergedAway(deps: SyncContext, objectType: string, recordIds: string[]): Promise<MergedAway> {
  const ids = [...new Set(recordIds)];
  const moved = new Set<string>();
  if (ids.length === 0) return { moved, apply: async () => {} };

  // Merges a pull has recorded already.
  const { rows: known } = await deps.pool.query<{ merged_id: string; winner_id: string }>(
    `select merged_id, winner_id from hubsync.merges where object_type = $1 and merged_id = any ($2::text[])`,
    [objectType, ids],
  );
  for (const k of known) moved.add(k.merged_id);

  // The others: one property is enough to tell a survivor from the record itself.
  const survivors = new Set<string>();
  const unknown = ids.filter((id) => !moved.has(id));
  for (let i = 0; i < unknown.length; i += READ_CHUNK) {
    const part = new Set(unknown.slice(i, i + READ_CHUNK));
    const read = await deps.hubspot.batchRead(objectType, [...part], [MERGED_IDS_PROPERTY]);
    for (const r of read.results) {
      if (part.has(r.id)) continue;
      const absorbed = (r.properties[MERGED_IDS_PROPERTY] ?? "").split(";").map((s) => s.trim()).filter((id) => part.has(id));
      if (absorbed.length === 0) continue;
      survivors.add(r.id);
      for (const id of absorbed) moved.add(id);
    }
  }

  return {
    moved,
    apply: async () => {
      if (known.length > 0) {
        // Re-points whatever still waits for these ids (changes queued while the merge was applied).
        const merges = known.map((k) => ({ id: k.winner_id, merged: [k.merged_id] }));
        await inApplyingTransaction(deps.pool, (client) => client.query(`select hubsync._apply_merges($1, $2::jsonb)`, [objectType, JSON.stringify(merges)]));
      }
      if (survivors.size === 0) return;
      const target = await loadTarget(deps, objectType);
      const readAt = (await deps.pool.query<{ at: Date }>(`select clock_timestamp() as at`)).rows[0]!.at;
      const ids = [...survivors];
      for (let i = 0; i < ids.length; i += READ_CHUNK) {
        const read = await deps.hubspot.batchRead(target.apiName, ids.slice(i, i + READ_CHUNK), target.allProperties);
        await inApplyingTransaction(deps.pool, (client) => applyRecords(client, target, read.results, readAt));
      }
    },
  };
}
