import { z } from "zod";
import type { HubSpotApi } from "../hubspot/client.ts";
import { HubSpotError, parseResponse } from "../hubspot/errors.ts";
import { AssociationType } from "../hubspot/schemas.ts";

/** HubSpot's limit on inputs per association batch read. */
export const BATCH_READ_LIMIT = 1000;

/**
 * HubSpot's association batch read answer (200 or 207, and 200 with `errors[]` on 2026-09):
 * toObjectId is a JSON number in HubSpot's answers though its spec types it a string, so both are taken.
 */
const BatchReadResponse = z.object({
  results: z
    .array(
      z.object({
        from: z.object({ id: z.coerce.string() }),
        to: z.array(z.object({ toObjectId: z.coerce.string(), associationTypes: z.array(AssociationType).default([]) })).default([]),
        paging: z.object({ next: z.object({ after: z.string().nullish() }).nullish() }).nullish(),
      }),
    )
    .default([]),
  errors: z
    .array(
      z.object({
        category: z.string().nullish(),
        subCategory: z.unknown().optional(),
        message: z.string().nullish(),
        context: z.record(z.string(), z.array(z.string())).nullish(),
      }),
    )
    .nullish(),
});

/** Every association of one source record to the other type: target id → its type ids (and labels). */
export type Edges = Map<string, Map<string, AssociationType[]>>;

export interface ReadOptions {
  /** Each call is charged to this many ids at most (HubSpot: 1,000). */
  batchSize?: number;
}

/**
 * All associations fromType → toType of `ids`, through the associations batch read: 1,000 ids per call, then the
 * ids that have more than a page of targets again, each with its own `after`, until none is left.
 * Ids HubSpot reports as having no associations (a 207 "errors" entry, NO_ASSOCIATIONS_FOUND /
 * OBJECT_NOT_FOUND) simply have none; any other error fails the read, so the caller never takes a
 * partial answer for the whole truth.
 */
export async function readAssociations(api: HubSpotApi, fromTypeId: string, toTypeId: string, ids: string[], opts: ReadOptions = {}): Promise<Edges> {
  const batchSize = Math.min(opts.batchSize ?? BATCH_READ_LIMIT, BATCH_READ_LIMIT);
  const edges: Edges = new Map();
  let pending: Array<{ id: string; after?: string }> = ids.map((id) => ({ id }));
  while (pending.length > 0) {
    const next: typeof pending = [];
    for (let i = 0; i < pending.length; i += batchSize) {
      const inputs = pending.slice(i, i + batchSize);
      const path = api.paths.associations.batch(fromTypeId, toTypeId, "read");
      const raw = await api.request(
        "associations",
        { method: "POST", path, body: { inputs: inputs.map((x) => (x.after ? { id: x.id, after: x.after } : { id: x.id })) } },
        { label: `associations ${fromTypeId}→${toTypeId}` },
      );
      const res = parseResponse(BatchReadResponse, raw, `associations ${fromTypeId}→${toTypeId} (POST ${path})`);
      for (const e of res.errors ?? []) {
        if (e.category === "OBJECT_NOT_FOUND" || String(e.subCategory ?? "").includes("NO_ASSOCIATIONS_FOUND")) continue;
        throw new HubSpotError(207, { category: e.category ?? "UNKNOWN", message: e.message ?? "association batch read error" }, `association batch read ${fromTypeId}→${toTypeId}: ${e.category}: ${e.message}`);
      }
      for (const r of res.results) {
        let targets = edges.get(r.from.id);
        if (!targets) edges.set(r.from.id, (targets = new Map()));
        for (const t of r.to) targets.set(t.toObjectId, [...(targets.get(t.toObjectId) ?? []), ...t.associationTypes]);
        const after = r.paging?.next?.after;
        if (after) next.push({ id: r.from.id, after });
      }
    }
    pending = next;
  }
  return edges;
}

/** Type ids ascending, without repeats. */
export function sortedTypeIds(types: AssociationType[]): number[] {
  return [...new Set(types.map((t) => t.typeId))].sort((x, y) => x - y);
}
