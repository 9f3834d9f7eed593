import { z } from "zod";
import { conflict, notFound } from "./http-errors.ts";
import type { ObjectTypeDef } from "./object-types.ts";
import { parseBody } from "./objects-routes.ts";
import { PropertyCreate } from "./properties-routes.ts";
import type { Router, SimContext, SimRequest, SimResponse } from "./router.ts";
import type { Store } from "./store.ts";

/** Custom-object schemas v3 (reference §3.1) on both paths the SDK and docs use. */

export const SchemaCreate = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/i),
  labels: z.object({ singular: z.string(), plural: z.string() }),
  primaryDisplayProperty: z.string().optional(),
  secondaryDisplayProperties: z.array(z.string()).optional(),
  searchableProperties: z.array(z.string()).optional(),
  requiredProperties: z.array(z.string()).default([]),
  properties: z.array(PropertyCreate.partial({ fieldType: true, groupName: true, label: true })).default([]),
  associatedObjects: z.array(z.string()).optional(),
});

export function schemaJson(store: Store, def: ObjectTypeDef) {
  return {
    id: def.objectTypeId.slice(2),
    objectTypeId: def.objectTypeId,
    fullyQualifiedName: def.fullyQualifiedName ?? def.name,
    name: def.name,
    labels: def.labels,
    primaryDisplayProperty: def.primaryDisplayProperty ?? undefined,
    secondaryDisplayProperties: def.secondaryDisplayProperties,
    searchableProperties: def.searchableProperties,
    // Optional in v3, required in the dated versions; the simulator has no sensitive properties.
    allowsSensitiveProperties: false,
    requiredProperties: def.requiredProperties,
    properties: store.propertyDefinitions(def).filter((p) => !p.archived),
    associations: [],
    archived: def.archived,
    createdAt: new Date(def.createdAt).toISOString(),
    updatedAt: new Date(def.updatedAt).toISOString(),
  };
}

function listSchemas(_req: SimRequest, ctx: SimContext): SimResponse {
  const results = ctx.store.objectTypes().filter((t) => t.custom).map((t) => schemaJson(ctx.store, t));
  return { status: 200, body: { results } };
}

function getSchema(req: SimRequest, ctx: SimContext): SimResponse {
  const def = ctx.store.resolveType(req.params.objectType!);
  if (!def || !def.custom) throw notFound(`Unable to find object type ${req.params.objectType}`);
  return { status: 200, body: schemaJson(ctx.store, def) };
}

export function createSchema(store: Store, input: z.input<typeof SchemaCreate>): ObjectTypeDef {
  const body = SchemaCreate.parse(input);
  if (store.resolveType(body.name)) throw conflict(`Object type with name ${body.name} already exists`);
  return store.createObjectType({
    name: body.name,
    labels: body.labels,
    primaryDisplayProperty: body.primaryDisplayProperty,
    secondaryDisplayProperties: body.secondaryDisplayProperties,
    searchableProperties: body.searchableProperties,
    requiredProperties: body.requiredProperties,
    properties: body.properties.map((p) => ({ ...p, label: p.label ?? p.name, options: p.options?.map((o, i) => ({ description: "", displayOrder: i, hidden: false, ...o })) })),
  });
}

function postSchema(req: SimRequest, ctx: SimContext): SimResponse {
  const body = parseBody(SchemaCreate, req.body);
  return { status: 201, body: schemaJson(ctx.store, createSchema(ctx.store, body)) };
}

export function registerSchemaRoutes(router: Router): void {
  for (const base of ["/crm-object-schemas/v3/schemas", "/crm/v3/schemas"]) {
    router.route("GET", base, listSchemas);
    router.route("POST", base, postSchema);
    router.route("GET", `${base}/{objectType}`, getSchema);
  }
}
