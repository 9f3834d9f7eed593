import type { Logger } from "pino";
import type { HubSpotApi } from "../hubspot/client.ts";
import { chunk, LOCAL_ID_PROPERTY, type RecordChange } from "./plan.ts";

/**
 * Creates of a type whose hubsync_local_id cannot be unique (see local-id-property.ts). A create
 * a push took before may have reached HubSpot with its answer lost (a killed worker, a dropped
 * connection): before it is sent again it is looked up by hubsync_local_id with a search, and a
 * record found is taken as the one created (its id written back, the change sent as an update).
 * HubSpot's search index shows a new record only after a delay, so the lookup waits until
 * `settleMs` after that earlier try; until then the create is held.
 */
export interface SettledCreates {
  /** Changes to hold until `until`: their earlier try is too recent for the search to show it. */
  held: RecordChange[];
  until: Date;
  /** Creates found in HubSpot, now updates (or archives) of the found record. */
  found: number;
}

export const HELD_FOR_SEARCH =
  "an earlier try of this create may have reached HubSpot without its answer; hubsync looks it up by hubsync_local_id once HubSpot's search shows new records";

export async function settleTriedCreates(
  api: HubSpotApi,
  objectType: string,
  changes: RecordChange[],
  settleMs: number,
  log: Logger,
  now = Date.now(),
): Promise<SettledCreates> {
  const out: SettledCreates = { held: [], until: new Date(now), found: 0 };
  const lookup: RecordChange[] = [];
  for (const c of changes) {
    if (c.action !== "upsert" && !c.upsertFirst) continue;
    if (c.creates && !c.triedAt) {
      // never taken by a push: it cannot be in HubSpot (a create and delete never sent is nothing)
      if (c.upsertFirst) c.action = "none";
      continue;
    }
    const ready = c.triedAt ? c.triedAt.getTime() + settleMs : now;
    if (ready > now) {
      out.held.push(c);
      if (ready > out.until.getTime()) out.until = new Date(ready);
      continue;
    }
    lookup.push(c);
  }
  for (const part of chunk(lookup)) {
    const page = await api.search(objectType, {
      filterGroups: [{ filters: [{ propertyName: LOCAL_ID_PROPERTY, operator: "IN", values: part.map((c) => c.localId) }] }],
      properties: [LOCAL_ID_PROPERTY],
      sorts: [{ propertyName: "hs_object_id", direction: "ASCENDING" }],
      limit: 200,
    });
    const byLocalId = new Map<string, string>();
    for (const r of page.results) {
      const localId = r.properties[LOCAL_ID_PROPERTY];
      if (!localId) continue;
      if (byLocalId.has(localId)) log.warn({ objectType, localId, ids: [byLocalId.get(localId), r.id] }, "two HubSpot records carry one hubsync_local_id; keeping the first");
      else byLocalId.set(localId, r.id);
    }
    for (const c of part) {
      const id = byLocalId.get(c.localId);
      if (!id) {
        // not in HubSpot: the earlier try never arrived; a delete of it has nothing to delete
        if (c.upsertFirst) c.action = "none";
        continue;
      }
      out.found++;
      c.recordId = id;
      if (c.upsertFirst) {
        c.upsertFirst = false;
        continue;
      }
      c.action = "update";
      c.properties = { ...c.properties, [LOCAL_ID_PROPERTY]: c.localId };
    }
  }
  return out;
}
