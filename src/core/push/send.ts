import { z } from "zod";
import type { HubSpotApi } from "../hubspot/client.ts";
import { HubSpotError, parseResponse } from "../hubspot/errors.ts";
import { LOCAL_ID_PROPERTY } from "./plan.ts";

/** HubSpot's reason for refusing one record. */
export interface Rejection {
  /** HubSpot's HTTP status; null when hubsync refused the change before sending it. */
  status: number | null;
  category: string;
  message: string;
  correlationId: string | null;
}

export interface Written {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string | null;
  updatedAt: string | null;
}

export type Outcome = { ok: true; written: Written | null } | { ok: false; rejection: Rejection };

/** One input of a batch call: key = what ties the answer to it (the local id, or the HubSpot id). */
export interface SendItem {
  key: string;
  localId: string;
  recordId: string | null;
  properties: Record<string, string>;
  /** Upsert keyed by this unique-value property (or email for contacts) instead of hubsync_local_id. */
  match?: { property: string; value: string };
}

/** How an upsert answer names its input's match value (HubSpot compares emails without case). */
const matchKey = (property: string, value: string) => `${property}\u0000${property === "email" ? value.toLowerCase() : value}`;

/** upsert: creates keyed by the unique hubsync_local_id; create: plain creates carrying it (types without unique values). */
export type BatchKind = "upsert" | "create" | "update" | "archive";

const ResultObject = z
  .object({
    id: z.coerce.string(),
    properties: z.record(z.string(), z.string().nullable()).default({}),
    createdAt: z.union([z.date(), z.string()]).nullish(),
    updatedAt: z.union([z.date(), z.string()]).nullish(),
    objectWriteTraceId: z.string().nullish(),
  })
  .passthrough();

const BatchError = z
  .object({
    status: z.string().optional(),
    category: z.string().optional(),
    message: z.string().optional(),
    context: z.record(z.string(), z.array(z.unknown())).nullish(),
  })
  .passthrough();

const BatchResponse = z
  .object({
    results: z.array(ResultObject).default([]),
    errors: z.array(BatchError).nullish(),
  })
  .passthrough();

const iso = (v: Date | string | null | undefined): string | null => (v instanceof Date ? v.toISOString() : (v ?? null));

/** A 4xx other than 401/403/429 is HubSpot refusing the data; anything else is worth retrying later. */
export function isRejection(err: unknown): err is HubSpotError {
  return err instanceof HubSpotError && err.status >= 400 && err.status < 500 && ![401, 403, 408, 429].includes(err.status);
}

/** Longest reason kept: HubSpot echoes the refused value, which may be megabytes. */
const MAX_REASON = 1_000;

export function clip(text: string): string {
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON - 1)}…` : text;
}

/**
 * HubSpot's reasons per property ("hs_lead_status: X was not one of the allowed options: […]")
 * from its errors[], clearer than the top-level message, which wraps the same in a JSON string.
 */
function reasonsOf(body: HubSpotError["body"]): string | null {
  const parts: string[] = [];
  for (const e of body?.errors ?? []) {
    const item = e as { message?: unknown; context?: { propertyName?: unknown } } | null;
    if (typeof item?.message !== "string") continue;
    const names = Array.isArray(item.context?.propertyName) ? item.context.propertyName.filter((n): n is string => typeof n === "string") : [];
    parts.push(names.length && !item.message.includes(names[0]!) ? `${names.join(", ")}: ${clip(item.message)}` : clip(item.message));
  }
  return parts.length ? parts.join("; ") : null;
}

/**
 * HubSpot's "Property values were not valid: [{…,"message":"…","name":"hs_lead_status"}]" (a
 * JSON list inside the message, as batch errors carry it) as "hs_lead_status: <message>; …".
 */
export function readableReason(message: string): string {
  const m = /^Property values were not valid: (\[[\s\S]*\])$/.exec(message);
  if (!m) return clip(message);
  try {
    const list = JSON.parse(m[1]!) as Array<{ message?: unknown; name?: unknown }>;
    const parts = list.flatMap((p) =>
      typeof p?.message !== "string" ? [] : [typeof p.name === "string" && !p.message.includes(p.name) ? `${p.name}: ${p.message}` : p.message],
    );
    return parts.length ? clip(parts.join("; ")) : clip(message);
  } catch {
    return clip(message);
  }
}

export function rejectionOf(err: HubSpotError): Rejection {
  const body = err.body;
  return {
    status: err.status,
    category: body?.category ?? `HTTP_${err.status}`,
    message: reasonsOf(body) ?? readableReason(body?.message ?? err.message),
    correlationId: body?.correlationId ?? null,
  };
}

export interface SendStats {
  requests: number;
}

/** HubSpot's complaints about property values in a refusal: the property and what is wrong with it. */
function complaintsOf(err: HubSpotError): Array<{ name: string; message: string }> {
  const out: Array<{ name: string; message: string }> = [];
  for (const e of err.body?.errors ?? []) {
    const item = e as { message?: unknown; context?: { propertyName?: unknown } } | null;
    const names = Array.isArray(item?.context?.propertyName) ? item.context.propertyName : [];
    for (const name of names) if (typeof name === "string" && typeof item?.message === "string") out.push({ name, message: item.message });
  }
  const listed = /^Property values were not valid: (\[[\s\S]*\])$/.exec(err.body?.message ?? "");
  if (listed) {
    try {
      for (const p of JSON.parse(listed[1]!) as Array<{ name?: unknown; message?: unknown }>) {
        if (typeof p?.name === "string" && typeof p.message === "string") out.push({ name: p.name, message: p.message });
      }
    } catch {
      // not the JSON list HubSpot puts there: no complaints to go by
    }
  }
  return out.filter((c, i) => out.findIndex((d) => d.name === c.name && d.message === c.message) === i);
}

/** Whether HubSpot's message quotes this value (it starts with it, has it in quotes, or names the email). */
function quotes(message: string, value: string): boolean {
  if (value === "") return false;
  return message.startsWith(`${value} `) || message.includes(`"${value}"`) || (value.includes("@") && message.includes(` ${value} `));
}

/**
 * Finds which inputs of a refused batch HubSpot refused, for as few calls as it can. HubSpot
 * refuses a whole batch update or upsert for one bad input and describes that input's bad values
 * without saying which input it was. An input carrying a value the refusal quotes, for the property
 * it names, is refused for it without another call (the same value fails the same rule), and the
 * rest is sent again; each further bad input costs one more call. When the refusal quotes no value
 * (an admin's validation rule may word it freely), the inputs that set a property it names are sent
 * apart from the others; failing that, the batch is split in halves.
 */
async function isolate(api: HubSpotApi, objectType: string, kind: BatchKind, items: SendItem[], err: HubSpotError, stats: SendStats): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>();
  const sendPart = async (part: SendItem[]) => {
    for (const [k, v] of await sendBatch(api, objectType, kind, part, stats)) outcomes.set(k, v);
  };
  const complaints = complaintsOf(err);
  const blamed = new Map<string, string[]>();
  for (const item of items) {
    const reasons = complaints.filter((c) => quotes(c.message, item.properties[c.name] ?? "")).map((c) => (c.message.includes(c.name) ? c.message : `${c.name}: ${c.message}`));
    if (reasons.length > 0) blamed.set(item.key, reasons);
  }
  if (blamed.size > 0) {
    const base = rejectionOf(err);
    for (const [key, reasons] of blamed) outcomes.set(key, { ok: false, rejection: { ...base, message: clip(reasons.join("; ")) } });
    const rest = items.filter((i) => !blamed.has(i.key));
    if (rest.length > 0) await sendPart(rest);
    return outcomes;
  }
  const named = new Set(complaints.map((c) => c.name));
  const suspects = items.filter((i) => Object.keys(i.properties).some((n) => named.has(n)));
  if (suspects.length > 0 && suspects.length < items.length) {
    await sendPart(items.filter((i) => !suspects.includes(i)));
    await sendPart(suspects);
    return outcomes;
  }
  const half = Math.ceil(items.length / 2);
  for (const part of [items.slice(0, half), items.slice(half)]) await sendPart(part);
  return outcomes;
}

/**
 * Sends items (≤ 100) in one batch call and returns an outcome per item key. Records HubSpot refuses
 * are told apart from the rest: by objectWriteTraceId in a 207 answer where HubSpot gives it (batch
 * create), else by sending the batch again without the inputs found bad (see isolate; upsert,
 * update and archive are all safe to repeat), so one bad record never holds back the good ones. Transient failures (5xx, timeouts,
 * rate limits beyond the client's own retries, auth) are thrown for the caller to back off.
 */
export async function sendBatch(
  api: HubSpotApi,
  objectType: string,
  kind: BatchKind,
  items: SendItem[],
  stats: SendStats,
): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>();
  if (items.length === 0) return outcomes;
  let raw: unknown;
  try {
    stats.requests++;
    // A plain create sent twice makes two records: one that may have arrived is not sent again
    // here but looked up by the next push (see creates.ts).
    raw = await api.request(
      "general",
      { method: "POST", path: api.paths.objects.batch(objectType, kind), body: batchBody(kind, items) },
      { label: `push ${kind} ${objectType}`, idempotent: kind !== "create" },
    );
  } catch (err) {
    if (!isRejection(err)) throw err;
    if (items.length === 1) {
      outcomes.set(items[0]!.key, { ok: false, rejection: rejectionOf(err) });
      return outcomes;
    }
    return isolate(api, objectType, kind, items, err, stats);
  }
  if (kind === "archive") {
    for (const item of items) outcomes.set(item.key, { ok: true, written: null });
    return outcomes;
  }
  // 200 or 207 (2026-09: 200) alike: per-input failures are in errors[].
  const res = parseResponse(BatchResponse, raw ?? {}, `batch ${kind} ${objectType} (POST ${api.paths.objects.batch(objectType, kind)})`);
  const byKey = new Map(items.map((i) => [i.key, i]));
  const byRecordId = new Map(items.filter((i) => i.recordId).map((i) => [i.recordId!, i.key]));
  const byMatch = new Map(items.filter((i) => i.match).map((i) => [matchKey(i.match!.property, i.match!.value), i.key]));
  const matchProperty = items.find((i) => i.match)?.match?.property;
  const matched = (r: z.infer<typeof ResultObject>) => {
    const v = matchProperty ? r.properties[matchProperty] : null;
    return v ? (byMatch.get(matchKey(matchProperty!, v)) ?? null) : null;
  };
  for (const r of res.results) {
    const key =
      (r.objectWriteTraceId && byKey.has(r.objectWriteTraceId) ? r.objectWriteTraceId : null) ??
      (kind === "upsert" && byMatch.size > 0 ? matched(r) : null) ??
      (kind === "upsert" || kind === "create" ? (r.properties[LOCAL_ID_PROPERTY] ?? null) : (byRecordId.get(r.id) ?? null));
    if (!key || !byKey.has(key)) continue;
    outcomes.set(key, {
      ok: true,
      written: { id: r.id, properties: r.properties, createdAt: iso(r.createdAt), updatedAt: iso(r.updatedAt) },
    });
  }
  const unexplained: SendItem[] = [];
  for (const e of res.errors ?? []) {
    const ctx = e.context ?? {};
    const keys = [
      ...(ctx.objectWriteTraceId ?? []).map(String),
      ...[...(ctx.ids ?? []), ...(ctx.id ?? [])].map((id) => byRecordId.get(String(id)) ?? String(id)),
    ].filter((k) => byKey.has(k));
    for (const key of keys) {
      outcomes.set(key, {
        ok: false,
        rejection: {
          status: 400,
          category: e.category ?? "VALIDATION_ERROR",
          message: readableReason(e.message ?? "rejected by HubSpot"),
          correlationId: typeof (e as { correlationId?: unknown }).correlationId === "string" ? String((e as { correlationId?: unknown }).correlationId) : null,
        },
      });
    }
  }
  for (const item of items) if (!outcomes.has(item.key)) unexplained.push(item);
  if (unexplained.length > 0) {
    if ((res.errors ?? []).length > 0 && unexplained.length > 1) {
      // HubSpot refused something without saying which input: find it by halves.
      const half = Math.ceil(unexplained.length / 2);
      for (const part of [unexplained.slice(0, half), unexplained.slice(half)]) {
        for (const [k, v] of await sendBatch(api, objectType, kind, part, stats)) outcomes.set(k, v);
      }
    } else {
      const e = (res.errors ?? [])[0];
      for (const item of unexplained) {
        outcomes.set(item.key, {
          ok: false,
          rejection: {
            status: e ? 400 : 404,
            category: e?.category ?? "OBJECT_NOT_FOUND",
            message: e?.message ?? `HubSpot returned no result for ${item.recordId ?? item.localId} (merged or deleted?)`,
            correlationId: null,
          },
        });
      }
    }
  }
  return outcomes;
}

/** The batch request's body for the items. */
function batchBody(kind: BatchKind, items: SendItem[]): { inputs: unknown[] } {
  if (kind === "archive") return { inputs: items.map((i) => ({ id: i.recordId! })) };
  if (kind === "update") return { inputs: items.map((i) => ({ id: i.recordId!, objectWriteTraceId: i.key, properties: i.properties })) };
  if (kind === "create") {
    return { inputs: items.map((i) => ({ objectWriteTraceId: i.key, properties: { ...i.properties, [LOCAL_ID_PROPERTY]: i.localId }, associations: [] })) };
  }
  return {
    inputs: items.map((i) =>
      i.match
        ? { idProperty: i.match.property, id: i.match.value, objectWriteTraceId: i.key, properties: i.properties }
        : { idProperty: LOCAL_ID_PROPERTY, id: i.localId, objectWriteTraceId: i.key, properties: { ...i.properties, [LOCAL_ID_PROPERTY]: i.localId } },
    ),
  };
}
