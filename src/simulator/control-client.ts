import { z } from "zod";
import { associationControl, type AssociationControl } from "./associations-control.ts";
import type { ConfigPatch } from "./config.ts";
import type { ObjectTypeInput, PropertyType } from "./types.ts";
import type { WebhookConfigInput } from "./webhooks.ts";

/**
 * Typed client of the simulator's /_sim control API: what tests, the demo and the benchmarks use
 * to reset or seed the portal, change settings, and act as a HubSpot user would (edits, merges,
 * archives) without going through — or being counted as — HubSpot API calls.
 */

const iso = (ms: number): string => new Date(ms).toISOString();
/** The routes send epoch ms; the client gives ISO strings, as HubSpot's JSON does. */
const RecordSchema = z
  .object({
    id: z.string(),
    properties: z.record(z.string(), z.string()),
    createdAt: z.number(),
    updatedAt: z.number(),
    archived: z.boolean(),
    archivedAt: z.number().nullable(),
  })
  .transform((r) => ({ ...r, createdAt: iso(r.createdAt), updatedAt: iso(r.updatedAt), archivedAt: r.archivedAt === null ? null : iso(r.archivedAt) }));
export type ControlRecord = z.infer<typeof RecordSchema>;

const LoggedRequestSchema = z.object({ method: z.string(), path: z.string(), endpoint: z.string(), status: z.number(), ms: z.number(), at: z.number() });
export type ControlLoggedRequest = z.infer<typeof LoggedRequestSchema>;

const CountersSchema = z.object({
  total: z.number(),
  byStatus: z.record(z.string(), z.number()),
  byEndpoint: z.record(z.string(), z.number()),
  rateLimited: z.number(),
  byPolicy: z.record(z.string(), z.number()),
  since: z.number(),
});
export type ControlCounters = z.infer<typeof CountersSchema>;

const Loose = z.record(z.string(), z.unknown());

const WebhookStatsSchema = z.object({
  config: z.record(z.string(), z.unknown()).nullable(),
  sent: z.number(),
  delivered: z.number(),
  failed: z.number(),
  retried: z.number(),
  dropped: z.number(),
  pending: z.number(),
  eventsQueued: z.number(),
  eventsDelivered: z.number(),
  eventsDropped: z.number(),
  inFlight: z.number(),
  lastError: z.string().nullable(),
});
/** Delivery counters (see WebhookCounters in webhooks.ts for what each one counts) and the settings in force. */
export type ControlWebhookStats = z.infer<typeof WebhookStatsSchema>;

export interface PropertyInput {
  name: string;
  type: PropertyType;
  label?: string;
  fieldType?: string;
  groupName?: string;
  description?: string;
  hasUniqueValue?: boolean;
  options?: Array<{ label: string; value: string; description?: string; displayOrder?: number; hidden?: boolean }>;
}

export type SchemaInput = ObjectTypeInput<PropertyInput>;

export interface SimulatorControl extends AssociationControl {
  reset(): Promise<void>;
  seed(options: { size: number; seed?: number }): Promise<Record<string, unknown>>;
  configure(patch: ConfigPatch): Promise<Record<string, unknown>>;
  createRecord(type: string, properties: Record<string, string | number | boolean | null>, options?: { at?: number }): Promise<ControlRecord>;
  /** An edit "in the HubSpot UI": last-modified moves to `at` (ms) or now. */
  updateRecord(type: string, id: string, properties: Record<string, string | number | boolean | null>, options?: { at?: number; userId?: number }): Promise<ControlRecord>;
  /** Many records modified in one millisecond (as a workflow or import does). */
  touchRecords(type: string, ids: string[], atMs: number): Promise<number>;
  archiveRecord(type: string, id: string): Promise<boolean>;
  restoreRecord(type: string, id: string): Promise<boolean>;
  mergeRecords(type: string, primaryId: string, mergedId: string): Promise<ControlRecord>;
  /** Live or archived; null when it does not exist (or was merged away). */
  getRecord(type: string, id: string): Promise<ControlRecord | null>;
  /** Every record of a type (live by default; `archived: true` → archived only; "all" → both, in id order). */
  listRecords(type: string, options?: { archived?: boolean | "all" }): Promise<ControlRecord[]>;
  createProperty(type: string, def: PropertyInput): Promise<Record<string, unknown>>;
  deleteProperty(type: string, name: string): Promise<boolean>;
  createCustomObject(schema: SchemaInput): Promise<Record<string, unknown>>;
  /** Empties the rate limiter's windows and daily count. */
  resetRateLimits(): Promise<void>;
  /** HubSpot API requests served (control calls excluded), oldest first. */
  requests(options?: { since?: number }): Promise<ControlLoggedRequest[]>;
  counters(): Promise<ControlCounters>;
  /** Zeroes the counters and empties the request log. */
  resetCounters(): Promise<void>;
  /** Sends signed webhook batches to `targetUrl` from now on (replaces earlier settings; `enabled: false` stops). */
  configureWebhooks(settings: WebhookConfigInput): Promise<ControlWebhookStats>;
  webhookStats(): Promise<ControlWebhookStats>;
  /** Sends the open batch window now and waits until nothing is pending; `flushed` is false at the timeout. */
  flushWebhooks(options?: { timeoutMs?: number }): Promise<ControlWebhookStats & { flushed: boolean }>;
}

export function simulatorControl(baseUrl: string): SimulatorControl {
  const call = async <T extends z.ZodType>(method: string, path: string, schema: T, body?: unknown, allow404 = false): Promise<z.infer<T> | null> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (allow404 && res.status === 404) return null;
    if (!res.ok) throw new Error(`simulator control ${method} ${path}: ${res.status} ${text}`);
    return schema.parse(text ? JSON.parse(text) : {});
  };
  const must = async <T extends z.ZodType>(method: string, path: string, schema: T, body?: unknown): Promise<z.infer<T>> =>
    (await call(method, path, schema, body))!;
  const t = encodeURIComponent;
  return {
    ...associationControl(baseUrl),
    reset: async () => void (await must("POST", "/_sim/reset", Loose)),
    seed: (options) => must("POST", "/_sim/seed", Loose, { size: options.size, seed: options.seed ?? 1 }),
    configure: (patch) => must("POST", "/_sim/config", Loose, patch),
    createRecord: (type, properties, options = {}) => must("POST", `/_sim/records/${t(type)}`, RecordSchema, { properties, at: options.at }),
    updateRecord: (type, id, properties, options = {}) => must("PATCH", `/_sim/records/${t(type)}/${t(id)}`, RecordSchema, { properties, at: options.at, userId: options.userId }),
    touchRecords: async (type, ids, atMs) => (await must("POST", `/_sim/records/${t(type)}/touch`, z.object({ touched: z.number() }), { ids, at: atMs })).touched,
    archiveRecord: async (type, id) => (await must("POST", `/_sim/records/${t(type)}/${t(id)}/archive`, RecordSchema, {})).archived,
    restoreRecord: async (type, id) => !(await must("POST", `/_sim/records/${t(type)}/${t(id)}/restore`, RecordSchema, {})).archived,
    mergeRecords: (type, primaryId, mergedId) => must("POST", `/_sim/records/${t(type)}/merge`, RecordSchema, { primaryId, mergedId }),
    getRecord: (type, id) => call("GET", `/_sim/records/${t(type)}/${t(id)}`, RecordSchema, undefined, true),
    listRecords: async (type, options = {}) => {
      const q = options.archived === "all" ? "" : `?archived=${String(options.archived ?? false)}`;
      return (await must("GET", `/_sim/records/${t(type)}${q}`, z.object({ results: z.array(RecordSchema) }))).results;
    },
    createProperty: (type, def) => must("POST", `/_sim/properties/${t(type)}`, Loose, def),
    deleteProperty: async (type, name) => (await call("DELETE", `/_sim/properties/${t(type)}/${t(name)}`, Loose, undefined, true)) !== null,
    createCustomObject: (schema) => must("POST", "/_sim/custom-objects", Loose, schema),
    resetRateLimits: async () => void (await must("POST", "/_sim/rate-limits/reset", Loose)),
    requests: async (options = {}) =>
      (await must("GET", `/_sim/requests?since=${options.since ?? 0}`, z.object({ results: z.array(LoggedRequestSchema) }))).results,
    counters: () => must("GET", "/_sim/counters", CountersSchema),
    resetCounters: async () => void (await must("POST", "/_sim/counters/reset", Loose)),
    configureWebhooks: (settings) => must("POST", "/_sim/webhooks", WebhookStatsSchema, settings),
    webhookStats: () => must("GET", "/_sim/webhooks", WebhookStatsSchema),
    flushWebhooks: (options = {}) => must("POST", "/_sim/webhooks/flush", WebhookStatsSchema.extend({ flushed: z.boolean() }), options),
  };
}
