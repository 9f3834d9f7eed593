import type pg from "pg";
import { z } from "zod";
import type { HubSpotApi } from "../hubspot/client.ts";
import type { AssociationBatchKind } from "../hubspot/paths/associations.ts";
import { chunk, type OutboxRow } from "./plan.ts";
import { isRejection, type Rejection } from "./send.ts";
import { inTransaction, type Queryable } from "../db/transaction.ts";
import { findObject } from "../schema/objects.ts";
import { markDeferred, markRejected, markRetry, markSent, markSuperseded, quoteIdent } from "./outbox.ts";
import { HubSpotError } from "../hubspot/errors.ts";
import type { AssociationType } from "../hubspot/schemas.ts";

const Change = z.object({
  table: z.string(),
  fromType: z.string(),
  toType: z.string(),
  fromColumn: z.string(),
  toColumn: z.string(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  typeIds: z.array(z.coerce.number()).nullish(),
  labels: z.array(z.string()).nullish(),
  oldTypeIds: z.array(z.coerce.number()).nullish(),
});
type Change = z.infer<typeof Change>;

type Definition = AssociationType;

const PairErrors = z
  .object({
    errors: z
      .array(
        z
          .object({ category: z.string().optional(), message: z.string().optional(), context: z.record(z.string(), z.array(z.unknown())).nullish() })
          .passthrough(),
      )
      .nullish(),
  })
  .passthrough()
  .nullish();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Resolved {
  rows: OutboxRow[];
  change: Change;
  op: "associate" | "unassociate";
  from: string;
  to: string;
}

export interface AssociationResult {
  sent: number;
  rejected: number;
  deferred: number;
  requests: number;
}

/** The HubSpot id behind an end: itself, or the id of the row whose _sync_local_id it is (null: not created yet). */
async function resolveEnd(db: Queryable, type: string, value: string | null): Promise<string | null> {
  if (!value) return null;
  if (!UUID.test(value)) return value;
  const table = (await findObject(db, type))?.table_name;
  if (!table) return null;
  const r = await db.query<{ id: string | null }>(`select id from hubspot.${quoteIdent(table)} where _sync_local_id = $1::uuid`, [value]);
  return r.rows[0]?.id ?? null;
}

/**
 * Ends HubSpot merged away (hubsync.merges), keyed "type|old id", with the id that absorbed them.
 * HubSpot moved the associations there, and an association write naming an old id would be refused.
 */
async function mergeSurvivors(db: Queryable, rows: OutboxRow[]): Promise<Map<string, string>> {
  const res = await db.query<{ object_type: string; merged_id: string; winner_id: string }>(
    `select m.object_type, m.merged_id, m.winner_id from hubsync.merges m
      where (m.object_type, m.merged_id) in (select x ->> 'fromType', x ->> 'from' from jsonb_array_elements($1::jsonb) x
                                             union select x ->> 'toType', x ->> 'to' from jsonb_array_elements($1::jsonb) x)`,
    [JSON.stringify(rows.map((r) => r.changes))],
  );
  return new Map(res.rows.map((r) => [`${r.object_type}|${r.merged_id}`, r.winner_id]));
}

/**
 * Sends the claimed association changes of one object type. A change whose end is a record not yet
 * created in HubSpot waits (deferred, not counted as a try). The last change per pair wins.
 * Associate without type ids or labels uses HubSpot's default type; with them, batch/create with
 * the full set (after removing labels the row no longer has); unassociate removes the pair.
 */
export async function pushAssociations(db: Queryable, api: HubSpotApi, rows: OutboxRow[]): Promise<AssociationResult> {
  const result: AssociationResult = { sent: 0, rejected: 0, deferred: 0, requests: 0 };
  const byPair = new Map<string, Resolved>();
  const deferred: string[] = [];
  const survivors = await mergeSurvivors(db, rows);
  const current = (type: string, id: string | null) => (id && survivors.get(`${type}|${id}`)) || id;
  for (const row of rows) {
    const parsed = Change.safeParse(row.changes);
    if (!parsed.success) {
      await markRejected(db, [row.id], { status: 0, category: "INVALID_CHANGE", message: parsed.error.message, correlationId: null });
      result.rejected++;
      continue;
    }
    const change = parsed.data;
    const from = await resolveEnd(db, change.fromType, current(change.fromType, change.from));
    const to = await resolveEnd(db, change.toType, current(change.toType, change.to));
    if (!from || !to) {
      deferred.push(row.id);
      continue;
    }
    const key = `${change.fromType}|${change.toType}|${from}|${to}`;
    const prior = byPair.get(key);
    byPair.set(key, { rows: [...(prior?.rows ?? []), row], change, op: row.op as Resolved["op"], from, to });
  }
  await markDeferred(db, deferred);
  result.deferred = deferred.length;

  const open = new Set([...byPair.values()].flatMap((i) => i.rows.map((r) => r.id)));
  const groups = new Map<string, Resolved[]>();
  for (const item of byPair.values()) {
    const k = `${item.change.fromType}|${item.change.toType}`;
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  for (const items of groups.values()) {
    const { fromType, toType } = items[0]!.change;
    let defs: Definition[] | null = null;
    const definitions = async (): Promise<Definition[]> => {
      if (!defs) {
        result.requests++;
        defs = await api.associationLabels(fromType, toType);
      }
      return defs;
    };
    try {
      for (const part of chunk(items)) {
        const outcomes = await sendGroup(api, fromType, toType, part, definitions, result);
        for (const [item, outcome] of outcomes) {
          const ids = item.rows.map((r) => r.id);
          for (const id of ids) open.delete(id);
          if (outcome === "ok") {
            // Sent, and local ends replaced by ids, in one transaction: whoever sees it sent sees the ids.
            await inTransaction(
              db,
              async (client) => {
                await markSent(client, ids.slice(-1), null);
                await markSuperseded(client, ids.slice(0, -1));
                await rewriteLocalEnds(client, item);
              },
              true,
            );
            result.sent++;
          } else {
            await markRejected(db, ids, outcome);
            result.rejected++;
          }
        }
      }
    } catch (err) {
      await markRetry(db, [...open], err instanceof Error ? err.message : String(err), err instanceof HubSpotError ? err.status : null);
      throw err;
    }
  }
  return result;
}

type Defs = () => Promise<Definition[]>;

async function typesFor(item: Resolved, definitions: Defs): Promise<Array<{ associationCategory: string; associationTypeId: number }>> {
  let typeIds = item.change.typeIds ?? [];
  const labels = item.change.labels ?? [];
  if (typeIds.length === 0 && labels.length === 0) return [];
  const defs = await definitions();
  if (typeIds.length === 0) {
    typeIds = labels.map((l) => {
      const d = defs.find((x) => x.label === l);
      if (!d) throw new HubSpotError(400, { category: "VALIDATION_ERROR", message: `unknown association label "${l}" for ${item.change.fromType} → ${item.change.toType}` }, "unknown label");
      return d.typeId;
    });
  }
  return typeIds.map((id) => ({
    associationCategory: defs.find((d) => d.typeId === id)?.category ?? "HUBSPOT_DEFINED",
    associationTypeId: id,
  }));
}

async function sendGroup(
  api: HubSpotApi,
  fromType: string,
  toType: string,
  items: Resolved[],
  definitions: Defs,
  result: AssociationResult,
): Promise<Map<Resolved, "ok" | Rejection>> {
  const out = new Map<Resolved, "ok" | Rejection>();
  // Archives answer 204 on v4 and 200 with a batch body on the dated versions; creates 201 or 200;
  // partial failures 207 or (2026-09) 200: any 2xx is read for its errors[] alike.
  const post = (kind: AssociationBatchKind, inputs: unknown[], label: string) =>
    api.request("associations", { method: "POST", path: api.paths.associations.batch(fromType, toType, kind), body: { inputs } }, { label });
  const attempt = async (list: Resolved[], send: (list: Resolved[]) => Promise<unknown>): Promise<void> => {
    if (list.length === 0) return;
    try {
      result.requests++;
      const res = PairErrors.safeParse(await send(list));
      // 207: HubSpot names the refused pairs (fromObjectId / toObjectId) in each error's context.
      for (const e of res.success ? (res.data?.errors ?? []) : []) {
        const from = e.context?.fromObjectId?.map(String) ?? [];
        const to = e.context?.toObjectId?.map(String) ?? [];
        for (const i of list) {
          if (from.includes(i.from) && (to.length === 0 || to.includes(i.to))) {
            out.set(i, { status: 400, category: e.category ?? "VALIDATION_ERROR", message: e.message ?? "association refused", correlationId: null });
          }
        }
      }
      for (const i of list) if (!out.has(i)) out.set(i, "ok");
    } catch (err) {
      if (!isRejection(err)) throw err;
      if (list.length === 1) {
        out.set(list[0]!, {
          status: err.status,
          category: err.body?.category ?? `HTTP_${err.status}`,
          message: err.body?.message ?? err.message,
          correlationId: err.body?.correlationId ?? null,
        });
        return;
      }
      const half = Math.ceil(list.length / 2);
      await attempt(list.slice(0, half), send);
      await attempt(list.slice(half), send);
    }
  };

  const removals = items.filter((i) => i.op === "unassociate");
  await attempt(removals, (list) =>
    post(
      "archive",
      list.map((i) => ({ from: { id: i.from }, to: [{ id: i.to }] })),
      `unassociate ${fromType}/${toType}`,
    ),
  );

  const adds = items.filter((i) => i.op === "associate");
  const plain: Resolved[] = [];
  const labelled: Array<{ item: Resolved; types: Array<{ associationCategory: string; associationTypeId: number }> }> = [];
  for (const item of adds) {
    try {
      const types = await typesFor(item, definitions);
      if (types.length === 0) plain.push(item);
      else labelled.push({ item, types });
    } catch (err) {
      if (!isRejection(err)) throw err;
      out.set(item, { status: 400, category: "VALIDATION_ERROR", message: err.body?.message ?? err.message, correlationId: null });
    }
  }
  await attempt(plain, (list) =>
    post(
      "associate/default",
      list.map((i) => ({ from: { id: i.from }, to: { id: i.to } })),
      `associate ${fromType}/${toType}`,
    ),
  );
  // Labels the row no longer has are removed first; batch/create then sets the row's set.
  const relabels = labelled
    .map(({ item, types }) => ({
      item,
      gone: (item.change.oldTypeIds ?? []).filter((id) => !types.some((t) => t.associationTypeId === id)),
    }))
    .filter((r) => r.gone.length > 0);
  if (relabels.length > 0) {
    const defs = await definitions();
    result.requests++;
    await post(
      "labels/archive",
      relabels.map((r) => ({
        from: { id: r.item.from },
        to: { id: r.item.to },
        types: r.gone.map((id) => ({ associationCategory: defs.find((d) => d.typeId === id)?.category ?? "HUBSPOT_DEFINED", associationTypeId: id })),
      })),
      `remove association labels ${fromType}/${toType}`,
    );
  }
  const byItem = new Map(labelled.map((l) => [l.item, l.types]));
  await attempt(
    labelled.map((l) => l.item),
    (list) =>
      post(
        "create",
        list.map((i) => ({
          from: { id: i.from },
          to: { id: i.to },
          types: byItem.get(i)!,
        })),
        `associate ${fromType}/${toType} with labels`,
      ),
  );
  return out;
}

/** Ends given as a local record's _sync_local_id become its HubSpot id once the association exists (caller's applying transaction). */
async function rewriteLocalEnds(client: pg.PoolClient, item: Resolved): Promise<void> {
  const { table, fromColumn, toColumn, from, to } = item.change;
  if (item.op !== "associate" || (from === item.from && to === item.to)) return;
  await client.query(
    `update hubspot.${quoteIdent(table)} set ${quoteIdent(fromColumn)} = $1, ${quoteIdent(toColumn)} = $2
      where ${quoteIdent(fromColumn)} = $3 and ${quoteIdent(toColumn)} = $4`,
    [item.from, item.to, from, to],
  );
}
