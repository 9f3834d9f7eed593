/**
 * The simulator's control API under /_sim (no bearer, not rate limited, apart from HubSpot's paths):
 * what tests and benchmarks use to reset or seed the portal, change records the way a HubSpot user
 * would (so last-modified moves as in HubSpot), and read the request log and counters.
 * Association control endpoints live with the associations (associations-routes.ts).
 */
import { z } from "zod";
import type { Route, RouteRequest } from "./associations-routes.ts";
import { ConfigPatchSchema, type ConfigPatch, type SimulatorConfig } from "./config.ts";
import { notFound, validationError } from "./http-errors.ts";
import type { ObjectTypeDef } from "./object-types.ts";
import type { RequestLog } from "./request-log.ts";
import { seedPortal } from "./seed.ts";
import type { PropertyDefinition, PropertyType, Store, StoredRecord } from "./store.ts";

/** What the control routes need from the running server besides the store (index.ts builds it). */
export interface ControlRuntime {
  config(): SimulatorConfig;
  /** Applies a configuration patch and returns the configuration in force. */
  configure(patch: ConfigPatch): SimulatorConfig;
  log: RequestLog;
  /** Empties the rate limiter's windows and daily count (benchmarks start from a clean budget). */
  resetRateLimits?(): void;
}

/** A record as the control API shows it: every value, times in epoch ms, archived ones included. */
export interface ControlRecord {
  id: string;
  properties: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  archived: boolean;
  archivedAt: number | null;
}

const atSchema = z.number().int().nonnegative().optional();
const propertiesSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));
const writeBody = z.object({ properties: propertiesSchema.default({}), at: atSchema, userId: z.number().int().optional() });
const touchBody = z.object({ ids: z.array(z.union([z.string(), z.number()]).transform(String)), at: z.number().int().nonnegative() });
const atBody = z.object({ at: atSchema }).default({});
const mergeBody = z.object({ primaryId: z.union([z.string(), z.number()]).transform(String), mergedId: z.union([z.string(), z.number()]).transform(String), at: atSchema });
const seedBody = z.object({ size: z.number().int().nonnegative(), seed: z.number().int(), now: z.number().int().optional() });
const PROPERTY_TYPES = ["string", "number", "date", "datetime", "enumeration", "bool", "phone_number"] as const;
const optionSchema = z.object({
  label: z.string(),
  value: z.string(),
  description: z.string().default(""),
  displayOrder: z.number().int().default(0),
  hidden: z.boolean().default(false),
});
const propertyBody = z.object({
  name: z.string().min(1),
  type: z.enum(PROPERTY_TYPES),
  label: z.string().optional(),
  fieldType: z.string().optional(),
  groupName: z.string().optional(),
  description: z.string().optional(),
  hasUniqueValue: z.boolean().optional(),
  calculated: z.boolean().optional(),
  hidden: z.boolean().optional(),
  options: z.array(optionSchema).optional(),
});
const customObjectBody = z.object({
  name: z.string().min(1),
  labels: z.object({ singular: z.string(), plural: z.string() }),
  primaryDisplayProperty: z.string().optional(),
  secondaryDisplayProperties: z.array(z.string()).optional(),
  searchableProperties: z.array(z.string()).optional(),
  requiredProperties: z.array(z.string()).optional(),
  properties: z.array(propertyBody).optional(),
});

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  throw validationError(`Invalid control request: ${result.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}`);
}

export function toControlRecord(r: StoredRecord): ControlRecord {
  return { id: r.id, properties: { ...r.properties }, createdAt: r.createdAt, updatedAt: r.updatedAt, archived: r.archived, archivedAt: r.archivedAt };
}

export function controlRoutes(store: Store, runtime: ControlRuntime): Route[] {
  const type = (req: RouteRequest): ObjectTypeDef => {
    const t = store.resolveType(req.params.type ?? "");
    if (!t) throw validationError(`Unable to infer object type from: ${req.params.type}`);
    return t;
  };
  const record = (t: ObjectTypeDef, id: string | undefined): StoredRecord => {
    const r = store.getRecord(t, id ?? "");
    if (!r) {
      const winner = store.mergedInto(t, id ?? "");
      throw notFound(`No ${t.singular} with id ${id}${winner ? ` (merged into ${winner})` : ""}`, { id: [id ?? ""] });
    }
    return r;
  };
  const ok = (body?: unknown, status = 200) => ({ status, body });

  return [
    {
      method: "POST",
      path: "/_sim/reset",
      handler: () => {
        store.reset();
        runtime.resetRateLimits?.();
        return ok({ reset: true });
      },
    },
    { method: "POST", path: "/_sim/seed", handler: (req) => ok(seedPortal(store, parse(seedBody, req.body))) },
    { method: "GET", path: "/_sim/config", handler: () => ok(runtime.config()) },
    { method: "POST", path: "/_sim/config", handler: (req) => ok(runtime.configure(parse(ConfigPatchSchema, req.body))) },
    {
      method: "GET",
      path: "/_sim/records/{type}",
      handler: (req) => {
        const t = type(req);
        const archived = req.query.get("archived");
        const lists = archived === "true" ? [true] : archived === "false" ? [false] : [false, true];
        const results = lists.flatMap((a) => store.recordList(t, a).map(toControlRecord)).sort((x, y) => Number(x.id) - Number(y.id));
        return ok({ results });
      },
    },
    {
      method: "POST",
      path: "/_sim/records/{type}",
      handler: (req) => {
        const input = parse(writeBody, req.body);
        return ok(toControlRecord(store.createRecord(type(req), input.properties, { at: input.at })), 201);
      },
    },
    { method: "GET", path: "/_sim/records/{type}/{id}", handler: (req) => ok(toControlRecord(record(type(req), req.params.id))) },
    {
      method: "PATCH",
      path: "/_sim/records/{type}/{id}",
      handler: (req) => {
        const t = type(req);
        record(t, req.params.id);
        const input = parse(writeBody, req.body);
        // an edit "made in HubSpot": by a user in the CRM's own screens, as its history shows it
        const source = { type: "CRM_UI", ...(input.userId !== undefined ? { userId: input.userId } : {}) };
        return ok(toControlRecord(store.updateRecord(t, req.params.id!, input.properties, { at: input.at, source })!));
      },
    },
    {
      method: "POST",
      path: "/_sim/records/{type}/touch",
      handler: (req) => {
        const input = parse(touchBody, req.body);
        return ok({ touched: store.touchRecords(type(req), input.ids, input.at) });
      },
    },
    {
      method: "POST",
      path: "/_sim/records/{type}/merge",
      handler: (req) => {
        const t = type(req);
        const input = parse(mergeBody, req.body);
        record(t, input.primaryId);
        record(t, input.mergedId);
        const merged = store.mergeRecords(t, input.primaryId, input.mergedId, { at: input.at });
        if (!merged) throw validationError(`Cannot merge ${t.singular} ${input.mergedId} into ${input.primaryId}`);
        return ok(toControlRecord(merged));
      },
    },
    {
      method: "POST",
      path: "/_sim/records/{type}/{id}/archive",
      handler: (req) => {
        const t = type(req);
        const r = record(t, req.params.id);
        store.archiveRecord(t, r.id, { at: parse(atBody, req.body).at });
        return ok(toControlRecord(r));
      },
    },
    {
      method: "POST",
      path: "/_sim/records/{type}/{id}/restore",
      handler: (req) => {
        const t = type(req);
        const r = record(t, req.params.id);
        store.restoreRecord(t, r.id);
        return ok(toControlRecord(r));
      },
    },
    {
      method: "POST",
      path: "/_sim/properties/{type}",
      handler: (req) => {
        const t = type(req);
        const input = parse(propertyBody, req.body);
        if (store.property(t, input.name)) throw validationError(`Property ${input.name} already exists on ${t.name}`);
        return ok(store.createProperty(t, { ...input, type: input.type as PropertyType } as Partial<PropertyDefinition> & { name: string; type: PropertyType }), 201);
      },
    },
    {
      method: "DELETE",
      path: "/_sim/properties/{type}/{name}",
      handler: (req) => {
        if (!store.archiveProperty(type(req), req.params.name ?? "")) throw notFound(`No property ${req.params.name} on ${req.params.type}`);
        return { status: 204 };
      },
    },
    {
      method: "POST",
      path: "/_sim/custom-objects",
      handler: (req) => {
        const input = parse(customObjectBody, req.body);
        if (store.resolveType(input.name)) throw validationError(`Object type ${input.name} already exists`);
        const def = store.createObjectType(input as Parameters<Store["createObjectType"]>[0]);
        return ok({ objectTypeId: def.objectTypeId, name: def.name, fullyQualifiedName: def.fullyQualifiedName }, 201);
      },
    },
    {
      method: "GET",
      path: "/_sim/requests",
      handler: (req) => ok({ results: runtime.log.requests(Number(req.query.get("since") ?? 0)) }),
    },
    { method: "GET", path: "/_sim/counters", handler: () => ok(runtime.log.snapshot()) },
    {
      method: "POST",
      path: "/_sim/counters/reset",
      handler: () => {
        runtime.log.resetCounters();
        return { status: 204 };
      },
    },
    {
      method: "POST",
      path: "/_sim/rate-limits/reset",
      handler: () => {
        runtime.resetRateLimits?.();
        return { status: 204 };
      },
    },
  ];
}
