import type pg from "pg";
import type { HubSpotApi } from "../hubspot/client.ts";
import { knownRecordIds } from "./outbox.ts";
import { LISTS } from "../lists/pull.ts";
import { planListCalls } from "../lists/push.ts";
import { chunk, coalesce, OutboxRow, type RecordChange } from "./plan.ts";
import { findProblems, type Problem } from "./validate.ts";
import { findObject } from "../schema/objects.ts";

export interface PlannedCall {
  method: "POST" | "PUT";
  path: string;
  inputs: number;
  what: string;
}

export interface PlannedRejection {
  objectType: string;
  record: string;
  problems: Problem[];
}

export interface DryRun {
  calls: PlannedCall[];
  rejections: PlannedRejection[];
  /** Changes that cancel out (created and deleted before being sent). */
  nothingToSend: number;
}

/**
 * What a push would do now, without doing it: the batch calls the queued changes make (same
 * folding and order as the push) and which changes HubSpot would reject by its properties' rules.
 * Reads the outbox and the properties API (GET) only; claims nothing and sends no write.
 * Publications' queued changes are left out: `hubsync publish --dry-run NAME` shows those.
 */
export async function planPush(pool: pg.Pool, api: HubSpotApi, only?: string): Promise<DryRun> {
  const out: DryRun = { calls: [], rejections: [], nothingToSend: 0 };
  const waiting = await pool.query<{ object_type: string }>(
    `select object_type from hubsync.outbox
      where ($1::text is null or object_type = $1) and status in ('pending', 'in_flight') and publication is null
      group by object_type
      order by case object_type when 'companies' then 0 when 'contacts' then 1 when 'deals' then 2 else 3 end, object_type`,
    [only ?? null],
  );
  for (const { object_type: type } of waiting.rows) {
    if (type === LISTS) {
      const rows = await pool.query(`select id, op, changes from hubsync.outbox where object_type = $1 and status in ('pending', 'in_flight') order by id`, [type]);
      out.calls.push(...planListCalls(api, rows.rows));
      continue;
    }
    const object = await findObject(pool, type);
    if (!object) continue;
    const table = object.table_name;
    const rows = (
      await pool.query(`select * from hubsync.outbox where object_type = $1 and status in ('pending', 'in_flight') and publication is null order by id`, [type])
    ).rows.map((r) => OutboxRow.parse(r));
    const records = coalesce(rows.filter((r) => r.op !== "associate" && r.op !== "unassociate"));
    if (table) {
      const known = await knownRecordIds(pool, table, records.filter((c) => !c.recordId).map((c) => c.localId));
      for (const c of records) {
        const id = c.recordId ? null : known.get(c.localId);
        if (!id) continue;
        c.recordId = id;
        if (c.action === "upsert" && !c.creates) c.action = "update";
        c.upsertFirst = false;
      }
    }
    out.nothingToSend += records.filter((c) => c.action === "none").length;
    const found = await findProblems(api, type, records.map((c) => ({ key: c.localId, properties: c.properties })));
    const sendable: RecordChange[] = [];
    for (const c of records) {
      const problems = found.get(c.localId);
      if (problems) out.rejections.push({ objectType: type, record: c.recordId ?? `local ${c.localId}`, problems });
      else sendable.push(c);
    }
    const upserts = sendable.filter((c) => c.action === "upsert" || c.upsertFirst);
    for (const part of chunk(upserts)) {
      out.calls.push({ method: "POST", path: api.paths.objects.batch(type, "upsert"), inputs: part.length, what: `create (idProperty hubsync_local_id) ${type}` });
    }
    for (const part of chunk(sendable.filter((c) => c.action === "update"))) {
      out.calls.push({ method: "POST", path: api.paths.objects.batch(type, "update"), inputs: part.length, what: `update ${type}` });
    }
    for (const part of chunk(sendable.filter((c) => c.action === "archive"))) {
      out.calls.push({ method: "POST", path: api.paths.objects.batch(type, "archive"), inputs: part.length, what: `archive ${type}` });
    }
    const assoc = rows.filter((r) => r.op === "associate" || r.op === "unassociate");
    const byPath = new Map<string, number>();
    for (const r of assoc) {
      const ch = r.changes as { fromType?: string; toType?: string; typeIds?: unknown[]; labels?: unknown[] };
      const labelled = (ch.typeIds?.length ?? 0) + (ch.labels?.length ?? 0) > 0;
      const verb = r.op === "unassociate" ? "archive" : labelled ? "create" : "associate/default";
      const path = api.paths.associations.batch(String(ch.fromType), String(ch.toType), verb);
      byPath.set(path, (byPath.get(path) ?? 0) + 1);
    }
    for (const [path, n] of byPath) {
      for (const size of chunk(Array.from({ length: n }, (_, i) => i)).map((c) => c.length)) {
        out.calls.push({ method: "POST", path, inputs: size, what: "associations" });
      }
    }
  }
  return out;
}

export function renderDryRun(plan: DryRun): string {
  const lines: string[] = [];
  if (plan.calls.length === 0 && plan.rejections.length === 0) return "nothing to push\n";
  lines.push(`${plan.calls.length} batch call(s) would be made:`);
  for (const c of plan.calls) lines.push(`  ${c.method} ${c.path}  ${c.inputs} input(s)  — ${c.what}`);
  if (plan.nothingToSend > 0) lines.push(`${plan.nothingToSend} record(s) created and deleted again locally: nothing to send`);
  if (plan.rejections.length > 0) {
    lines.push(`${plan.rejections.length} record(s) HubSpot would reject:`);
    for (const r of plan.rejections) {
      for (const p of r.problems) lines.push(`  ${r.objectType} ${r.record}: ${p.property} = ${JSON.stringify(p.value)} — ${p.code}: ${p.message}`);
    }
  }
  lines.push("dry run: nothing was sent");
  return lines.join("\n") + "\n";
}
