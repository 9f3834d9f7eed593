import type pg from "pg";
import { z } from "zod";
import type { SyncContext } from "../context.ts";
import type { EmbeddedAssociations } from "../hubspot/schemas.ts";
import { readCursor, writeCursor } from "../schema/cursors.ts";
import { ensureAssociationTables, type AssociationPair } from "./pairs.ts";
import { BATCH_READ_LIMIT } from "./read.ts";
import { defaultTypes } from "./default-types.ts";
import { applyRows, labelsFor, labelsOf, localIds, noChanges, otherEnds, sideOf, SweepStopped, syncIds, syncPair, TypeMapUnresolved, type ChangeCounts, type PassContext, type Row, type Side } from "./sync.ts";

/**
 * Associations read with the records. HubSpot's list endpoint embeds each record's associated ids
 * (`associations=companies,deals`), so a backfill whose list pages ask for them fills the
 * association tables without a call of its own, where reading them afterwards costs a batch read
 * per 1,000 records and pair. Two things an embedded list does not say are read through the
 * associations API instead, for the records concerned:
 * - HubSpot embeds at most 100 associated ids per record and target type, then points to the rest
 *   with a `paging.next` only the associations API follows: a record at that count may have more;
 * - embedded associations name their type ("contact_to_company" for the primary,
 *   "contact_to_company_unlabeled" for the pair's default type, plain "contact_to_deal" where a
 *   pair has no primary), not its id; other names (user labels, parent/child companies) cannot be
 *   mapped to an id with certainty.
 * Search and batch read embed nothing (HubSpot's batch read refuses `associations`), so records a
 * backfill reads through search ranges, and the records incremental pulls bring, keep the
 * associations batch read.
 */

/** HubSpot embeds at most this many associated ids per record and target type. */
export const EMBED_LIMIT = 100;

/**
 * What a type's last backfill did for its association pairs (hubsync.cursors, stream below): when
 * it started and ended (hubsync's clock), and the pairs whose every association it read embedded.
 */
const BACKFILL_STREAM = "associations:backfill";
const BackfillMark = z.object({ startedAt: z.string(), endedAt: z.string(), embedded: z.array(z.string()) });
export type BackfillMark = z.infer<typeof BackfillMark>;

export async function readBackfillMark(db: pg.Pool | pg.PoolClient, objectType: string): Promise<BackfillMark | null> {
  const parsed = BackfillMark.safeParse(await readCursor(db, objectType, BACKFILL_STREAM));
  return parsed.success ? parsed.data : null;
}

/** Recorded in the backfill's last transaction: endedAt is that transaction's time, after every page it wrote. */
export async function writeBackfillMark(client: pg.PoolClient, objectType: string, startedAt: string, embedded: string[]): Promise<void> {
  const { rows } = await client.query<{ now: Date }>(`select now() as now`);
  await writeCursor(client, objectType, BACKFILL_STREAM, { startedAt, endedAt: rows[0]!.now.toISOString(), embedded });
}

export async function clearBackfillMark(db: pg.Pool | pg.PoolClient, objectType: string): Promise<void> {
  await db.query(`delete from hubsync.cursors where object_type = $1 and stream = $2`, [objectType, BACKFILL_STREAM]);
}

interface Target {
  pair: AssociationPair;
  /** The side of the pair the backfilled type is. */
  side: Side;
  /** The name the list is asked for, and the key HubSpot embeds them under. */
  toType: string;
  /** How embedded names map to a→b type ids, set on first use; null: not mappable. */
  decoder?: Decoder | null;
  /** Records whose associations to this type must be read through the associations API. */
  pending: string[];
  /** Every record read so far had its associations to this type written. */
  complete: boolean;
  /** The reads of pending records, as one pass (what they find sizes the next). */
  pass: PassContext;
}

/** Embedded names mapped to a→b type ids, and the labels of those ids. */
interface Decoder {
  names: Map<string, number>;
  labels: Map<number, string | null>;
}

/**
 * The embedded names of a pair from one side. HUBSPOT_DEFINED primaries come in both directions
 * (contact→company 1, company→contact 2), as does the pair's one unlabeled type, so a name read
 * from either side maps to the a→b id of its kind. The a→b ids are HubSpot's defaults where the
 * pair has them, else the pair's labels (one read, cached): null when those do not have exactly
 * one unlabeled type and at most one "Primary" (nothing is then mapped).
 */
async function decoderFor(deps: SyncContext, pair: AssociationPair, side: Side): Promise<Decoder | null> {
  const ids = defaultTypes(pair) ?? (await fromLabels(deps, pair));
  if (!ids) return null;
  const { from, to } = sideOf(pair, side);
  const base = `${from.singular}_to_${to.singular}`;
  const names =
    ids.primary === undefined
      ? new Map([[base, ids.unlabeled]])
      : new Map([
          [base, ids.primary],
          [`${base}_unlabeled`, ids.unlabeled],
        ]);
  return { names, labels: ids.labels };
}

async function fromLabels(deps: SyncContext, pair: AssociationPair): Promise<{ unlabeled: number; primary?: number; labels: Map<number, string | null> } | null> {
  const labels = await labelsOf(deps.hubspot, pair);
  const unlabeled = [...labels].filter(([, l]) => l === null).map(([id]) => id);
  const primary = [...labels].filter(([, l]) => l === "Primary").map(([id]) => id);
  if (unlabeled.length !== 1 || primary.length > 1) return null;
  return { unlabeled: unlabeled[0]!, primary: primary[0], labels };
}

/**
 * Standard object types only: HubSpot keys embedded associations by the target's plural name, which
 * is our object type for them; for custom objects the key is not documented, and a key we looked for
 * in vain would read as "no associations" and delete rows.
 */
function embeddable(objectTypeId: string): boolean {
  return objectTypeId.startsWith("0-");
}

export interface EmbeddedWriter {
  /** Target type names for the list's `associations=` (empty: ask for none). */
  readonly toTypes: string[];
  /** Writes the embedded associations of records just written (ids: the records of the page). */
  apply(ids: string[], embedded: Map<string, EmbeddedAssociations> | undefined): Promise<void>;
  /** Reads what was left to the associations API; returns the pairs every record was written for. */
  finish(): Promise<string[]>;
}

/**
 * The embedded-association writer of one backfill of `objectType`: for every association pair of
 * it whose other end is discovered (tables created here if missing). A failure to set up leaves the
 * backfill without embedding (the pairs are then read after it, as before).
 */
export async function embeddedWriter(deps: SyncContext, objectType: string): Promise<EmbeddedWriter> {
  let pairs: AssociationPair[] = [];
  for (let attempt = 1; ; attempt++) {
    try {
      pairs = await ensureAssociationTables(deps.pool, deps.log, objectType);
      break;
    } catch (err) {
      // The other types' discoveries and fills create tables and triggers at the same moment;
      // PostgreSQL refuses one of two concurrent catalog updates of the same row: try again.
      const concurrent = (err as { code?: string }).code === "XX000" && /concurrently/.test(String((err as Error).message));
      if (concurrent && attempt < 5) {
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
        continue;
      }
      deps.log.warn({ objectType, err: err instanceof Error ? err.message : String(err) }, "could not prepare association tables; associations are read after the backfill");
      break;
    }
  }
  const targets: Target[] = pairs
    .map((pair) => {
      const side: Side = pair.a.objectType === objectType ? "a" : "b";
      return { pair, side, toType: sideOf(pair, side).to.objectType, pending: [], complete: true, pass: { side } };
    })
    .filter((t) => embeddable(t.pair.a.objectTypeId) && embeddable(t.pair.b.objectTypeId));

  const flush = async (t: Target, all: boolean) => {
    while (t.complete && (t.pending.length >= BATCH_READ_LIMIT || (all && t.pending.length > 0))) {
      const ids = t.pending.splice(0, BATCH_READ_LIMIT);
      try {
        await syncIds(deps, t.pair, t.pass, ids);
      } catch (err) {
        if (!(err instanceof TypeMapUnresolved)) throw err;
        // read after the backfill from the other end, with the rest of the pair
        t.complete = false;
        t.pending = [];
      }
    }
  };

  return {
    toTypes: [...new Set(targets.map((t) => t.toType))],
    async apply(ids, embedded) {
      for (const t of targets) {
        if (!t.complete) continue;
        if (!embedded) {
          t.complete = false;
          continue;
        }
        const rows: Row[] = [];
        const done: string[] = [];
        for (const id of ids) {
          // a record the list did not name (batch read answers a merged-away id with the record it
          // went into) has nothing embedded to go by
          if (!embedded.has(id)) {
            t.pending.push(id);
            continue;
          }
          const found = embedded.get(id)![t.toType];
          if (!found || found.results.length === 0) {
            done.push(id);
            continue;
          }
          if (found.more || found.results.length >= EMBED_LIMIT) {
            t.pending.push(id);
            continue;
          }
          if (t.decoder === undefined) t.decoder = await decoderFor(deps, t.pair, t.side);
          const byTarget = new Map<string, Set<number>>();
          let mapped = t.decoder !== null;
          for (const e of found.results) {
            const typeId = t.decoder?.names.get(e.type);
            if (typeId === undefined) {
              mapped = false;
              break;
            }
            byTarget.set(e.id, (byTarget.get(e.id) ?? new Set()).add(typeId));
          }
          if (!mapped) {
            t.pending.push(id);
            continue;
          }
          for (const [other, set] of byTarget) {
            const typeIds = [...set].sort((x, y) => x - y);
            const [a, b] = t.side === "a" ? [id, other] : [other, id];
            rows.push({ a, b, type_ids: typeIds, labels: labelsFor(typeIds, t.decoder!.labels) });
          }
          done.push(id);
        }
        if (done.length > 0) await applyRows(deps.pool, t.pair, t.side, done, rows);
        await flush(t, false);
      }
    },
    async finish() {
      for (const t of targets) await flush(t, true);
      return targets.filter((t) => t.complete).map((t) => t.pair.table);
    },
  };
}

/** What a pair's fill after both backfills must still read, given what their list pages embedded. */
export interface PairFill {
  /** Filled since both ends' latest backfills: nothing to do. */
  skip: boolean;
  /** Embedded by at least one end: only these records (of a side, written since a time) are read; else the whole pair. */
  catchUp: Array<{ side: Side; since: string }> | null;
}

/**
 * A pair embedded by one end E holds every association of E's records as of the page that read
 * each. What else can have changed is read: E's records a pull wrote after E's backfill ended, and
 * the other end's records written after E's backfill started (all of them when their backfill ran
 * alongside) unless that end embedded the pair as well, when its pulls' writes after its own
 * backfill suffice. An association changed alone (HubSpot then changes neither record's
 * last-modified) after its record's page was read waits for the sweep, as one changed after a
 * pair's fill always did.
 */
export async function planPairFill(pool: pg.Pool, pair: AssociationPair, backfilledAt: Date | null): Promise<PairFill> {
  const ma = await readBackfillMark(pool, pair.a.objectType);
  const mb = pair.sameType ? ma : await readBackfillMark(pool, pair.b.objectType);
  const latest = Math.max(Date.parse(ma?.endedAt ?? ""), Date.parse(mb?.endedAt ?? ""));
  if (backfilledAt && Number.isFinite(latest) && backfilledAt.getTime() >= latest) return { skip: true, catchUp: null };
  const ea = ma?.embedded.includes(pair.table) ? ma : null;
  const eb = mb?.embedded.includes(pair.table) ? mb : null;
  if (pair.sameType) return { skip: false, catchUp: ea ? [{ side: "a", since: ea.endedAt }] : null };
  if (ea && eb) return { skip: false, catchUp: [{ side: "a", since: ea.endedAt }, { side: "b", since: eb.endedAt }] };
  if (ea) return { skip: false, catchUp: [{ side: "a", since: ea.endedAt }, { side: "b", since: ea.startedAt }] };
  if (eb) return { skip: false, catchUp: [{ side: "b", since: eb.endedAt }, { side: "a", since: eb.startedAt }] };
  return { skip: false, catchUp: null };
}

/**
 * Reads the records `plan` names (per side, 1,000 per batch read) and brings the pair's rows in line
 * for them; the whole pair when a side's type ids cannot be translated.
 */
export async function catchUpPair(deps: SyncContext, pair: AssociationPair, reads: Array<{ side: Side; since: string }>, signal?: AbortSignal): Promise<ChangeCounts & { side: Side | null; ids: number; associations: number }> {
  const counts = noChanges();
  let ids = 0;
  let associations = 0;
  try {
    for (const { side, since } of reads) {
      const pass: PassContext = { side };
      for await (const chunk of localIds(deps.pool, sideOf(pair, side).from.table, BATCH_READ_LIMIT, since)) {
        if (signal?.aborted) throw new SweepStopped(pair.table);
        const read = async (list: string[]) => {
          if (list.length === 0) return;
          const r = await syncIds(deps, pair, pass, list);
          counts.inserted += r.inserted;
          counts.updated += r.updated;
          counts.deleted += r.deleted;
          ids += list.length;
          associations += r.associations;
        };
        if (!pair.sameType) {
          await read(chunk);
          continue;
        }
        // a same-type table holds both directions: the records paired with these (before and
        // after) are read too, so the row back from each agrees with the row to it
        const mine = new Set(chunk);
        const before = await otherEnds(deps, pair, chunk);
        await read(chunk);
        await read([...new Set([...before, ...(await otherEnds(deps, pair, chunk))])].filter((id) => !mine.has(id)));
      }
    }
  } catch (err) {
    if (!(err instanceof TypeMapUnresolved)) throw err;
    return syncPair(deps, pair, { side: "a", signal });
  }
  // no end was read whole: the read side a sweep chose stays what it was
  return { ...counts, side: null, ids, associations };
}
