import { z } from "zod";
import type { SyncContext } from "../context.ts";
import { inApplyingTransaction } from "../db/transaction.ts";
import { STANDARD_OBJECT_TYPES } from "../schema/object-catalog.ts";
import { createManualList, findListByName } from "./api.ts";
import { objectTypeNames, upsertDefinitions } from "./pull.ts";

const Publication = z.object({ name: z.string(), list_name: z.string(), object_type: z.string(), list_id: z.string().nullable() });

export interface PublishResult {
  runs: number;
  added: number;
  removed: number;
  failed: number;
}

/**
 * Runs every list publication (hubsync.publish_list), right after a pull of lists so that
 * hubspot.list_memberships shows HubSpot as it is: a publication without its list id yet finds the
 * list by name in HubSpot or creates it (MANUAL) and records it in hubspot.lists; then
 * hubsync._publish_list_run adds and removes rows to match the source, and the write-back trigger
 * queues them for the membership push. A publication that fails keeps its error in
 * hubsync.list_publications and does not stop the others.
 */
export async function runListPublications(deps: SyncContext): Promise<PublishResult> {
  const out: PublishResult = { runs: 0, added: 0, removed: 0, failed: 0 };
  const { rows } = await deps.pool.query(`select name, list_name, object_type, list_id from hubsync.list_publications order by name`);
  for (const raw of rows) {
    const p = Publication.parse(raw);
    try {
      if (!p.list_id) await resolveList(deps, p);
      const r = (await deps.pool.query<{ r: { added: number; removed: number } | null }>(`select hubsync._publish_list_run($1) as r`, [p.name])).rows[0]?.r;
      out.runs++;
      out.added += r?.added ?? 0;
      out.removed += r?.removed ?? 0;
    } catch (err) {
      out.failed++;
      const message = err instanceof Error ? err.message : String(err);
      deps.log.warn({ publication: p.name, err: message }, "list publication failed");
      await deps.pool.query(`update hubsync.list_publications set last_error = $2, last_error_at = now() where name = $1`, [p.name, message.slice(0, 2000)]);
    }
  }
  return out;
}

async function resolveList(deps: SyncContext, p: z.infer<typeof Publication>): Promise<void> {
  const known = await deps.pool.query<{ object_type_id: string }>(`select object_type_id from hubsync.objects where object_type = $1 and object_type_id is not null`, [p.object_type]);
  const objectTypeId = STANDARD_OBJECT_TYPES[p.object_type]?.objectTypeId ?? known.rows[0]?.object_type_id;
  if (!objectTypeId) throw new Error(`hubsync: the object type id of ${p.object_type} is not known yet; enable and discover it first (select hubsync.enable_sync('${p.object_type}'))`);
  const list = (await findListByName(deps.hubspot, objectTypeId, p.list_name)) ?? (await createManualList(deps.hubspot, objectTypeId, p.list_name));
  if (list.processingType !== "MANUAL" && list.processingType !== "SNAPSHOT") {
    throw new Error(`hubsync: HubSpot's list "${p.list_name}" is ${list.processingType}; a published list must take members by hand (MANUAL or SNAPSHOT). Pick another list name.`);
  }
  const names = await objectTypeNames(deps.pool);
  await inApplyingTransaction(deps.pool, async (client) => {
    await upsertDefinitions(client, [list], names);
    await client.query(`update hubsync.list_publications set list_id = $2 where name = $1`, [p.name, list.listId]);
  });
}
