import { z } from "zod";

/** HubSpot takes at most 100 inputs per object batch call. */
export const BATCH_SIZE = 100;

/** The unique-value property that makes creates idempotent (batch upsert with idProperty). */
export const LOCAL_ID_PROPERTY = "hubsync_local_id";

const Json = z.record(z.string(), z.unknown());

/** A row of hubsync.outbox as the push reads it (node-postgres returns bigint as a string). */
export const OutboxRow = z.object({
  id: z.coerce.string(),
  object_type: z.string(),
  record_id: z.string().nullable(),
  local_id: z.string().nullable(),
  op: z.enum(["create", "update", "archive", "associate", "unassociate"]),
  changes: Json,
  previous: Json.default({}),
  attempts: z.number(),
  created_at: z.coerce.date(),
  /** The publication that queued the row (null: a write-back change). */
  publication: z.string().nullish(),
  /** When the row was last claimed before this claim (set by claimRecords only). */
  prev_attempt_at: z.coerce.date().nullish(),
});
export type OutboxRow = z.infer<typeof OutboxRow>;

/** What one record needs after all its queued changes are folded together. */
export interface RecordChange {
  localId: string;
  /** HubSpot id, when known. */
  recordId: string | null;
  /**
   * upsert: create (or update, when HubSpot has it already) by hubsync_local_id: every create, and any
   * change to a record whose HubSpot id is not known yet. update: by id. archive: by id, after an
   * upsert when the record may exist in HubSpot without our knowing its id. none: nothing to send.
   */
  action: "upsert" | "update" | "archive" | "none";
  /** The record must be upserted before it can be archived (its id is unknown). */
  upsertFirst: boolean;
  /** A create is among the folded rows. */
  creates: boolean;
  /** When a push last took the create (it may have reached HubSpot then), or null if none did. */
  triedAt: Date | null;
  properties: Record<string, string>;
  /** Values before the first of the folded changes (for on_reject = 'revert'). */
  previous: Record<string, string>;
  rowIds: string[];
}

const asText = (v: unknown): string => (v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v));

/**
 * Folds the queued rows of each record into one change, in queue order: later values of a property
 * win, create + updates = one create, changes + delete = one archive, a create never sent + delete =
 * nothing at all. Rows of one record must all be here (the claim takes a record's rows together).
 */
export function coalesce(rows: OutboxRow[]): RecordChange[] {
  const byRecord = new Map<string, OutboxRow[]>();
  for (const row of [...rows].sort((a, b) => Number(a.id) - Number(b.id))) {
    const key = row.local_id ?? `id:${row.record_id}`;
    const list = byRecord.get(key) ?? [];
    list.push(row);
    byRecord.set(key, list);
  }
  const out: RecordChange[] = [];
  for (const [key, list] of byRecord) {
    let recordId: string | null = null;
    let created = false; // a create is among the rows
    let createTried = false; // ...and may already have reached HubSpot
    let archived = false;
    let triedAt: Date | null = null;
    const properties: Record<string, string> = {};
    const previous: Record<string, string> = {};
    for (const row of list) {
      if (row.record_id) recordId = row.record_id;
      if (row.op === "create") {
        created = true;
        if (row.attempts > 0) createTried = true;
        if (row.prev_attempt_at && (!triedAt || row.prev_attempt_at > triedAt)) triedAt = row.prev_attempt_at;
      }
      if (row.op === "archive") archived = true;
      for (const [name, value] of Object.entries(row.changes)) properties[name] = asText(value);
      for (const [name, value] of Object.entries(row.previous ?? {})) if (!(name in previous)) previous[name] = asText(value);
    }
    const localId = list[0]!.local_id ?? key;
    const change: RecordChange = { localId, recordId, action: "none", upsertFirst: false, creates: created, triedAt, properties, previous, rowIds: list.map((r) => r.id) };
    if (archived) {
      if (recordId) change.action = "archive";
      else if (created && !createTried) change.action = "none";
      else {
        change.action = "archive";
        change.upsertFirst = true;
      }
      change.properties = {};
    } else if (created || !recordId) {
      change.action = "upsert";
    } else {
      change.action = Object.keys(properties).length > 0 ? "update" : "none";
    }
    out.push(change);
  }
  return out;
}

export function chunk<T>(items: T[], size = BATCH_SIZE): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
