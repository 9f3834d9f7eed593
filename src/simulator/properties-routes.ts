import { z } from "zod";
import { conflict, notFound, validationError } from "./http-errors.ts";
import { parseBody, requireType } from "./objects-routes.ts";
import { boolParam, listParam } from "./params.ts";
import type { Router, SimContext, SimRequest, SimResponse } from "./router.ts";
import type { PropertyType } from "./store.ts";

/** Properties v3: list (archived param), get, create (201), update, archive (204). */

const PROPERTY_TYPES = ["string", "number", "date", "datetime", "enumeration", "bool", "phone_number"] as const;

const OptionInput = z.object({
  label: z.string(),
  value: z.string(),
  description: z.string().optional(),
  displayOrder: z.number().optional(),
  hidden: z.boolean().optional(),
});

export const PropertyCreate = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, "property names are lowercase letters, digits and underscores"),
  label: z.string(),
  type: z.enum(PROPERTY_TYPES),
  fieldType: z.string(),
  groupName: z.string(),
  description: z.string().optional(),
  options: z.array(OptionInput).optional(),
  displayOrder: z.number().optional(),
  hasUniqueValue: z.boolean().optional(),
  hidden: z.boolean().optional(),
  formField: z.boolean().optional(),
  calculationFormula: z.string().optional(),
  externalOptions: z.boolean().optional(),
});

const PropertyUpdate = PropertyCreate.omit({ name: true }).partial();

function listProperties(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  const archived = boolParam(req.query, "archived");
  const only = listParam(req.query, "properties");
  const results = ctx.store
    .propertyDefinitions(type)
    .filter((p) => p.archived === archived && (!only || only.includes(p.name)));
  return { status: 200, body: { results } };
}

function getProperty(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  const archived = boolParam(req.query, "archived");
  const p = ctx.store.propertyDefinitions(type).find((d) => d.name === req.params.propertyName && d.archived === archived);
  if (!p) throw notFound(`Unable to find property ${req.params.propertyName} for object type ${type.objectTypeId}`);
  return { status: 200, body: p };
}

function createProperty(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  const body = parseBody(PropertyCreate, req.body);
  if (ctx.store.property(type, body.name)) throw conflict(`A property named '${body.name}' already exists.`);
  const p = ctx.store.createProperty(type, { ...body, type: body.type as PropertyType, options: body.options?.map((o, i) => ({ description: "", displayOrder: i, hidden: false, ...o })) });
  return { status: 201, body: p };
}

function updateProperty(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  const body = parseBody(PropertyUpdate, req.body);
  const current = ctx.store.property(type, req.params.propertyName!);
  if (!current) throw notFound(`Unable to find property ${req.params.propertyName} for object type ${type.objectTypeId}`);
  const { options, ...rest } = body;
  const p = ctx.store.updateProperty(type, current.name, {
    ...rest,
    ...(options ? { options: options.map((o, i) => ({ description: "", displayOrder: i, hidden: false, ...o })) } : {}),
  });
  return { status: 200, body: p };
}

function archiveProperty(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  const current = ctx.store.property(type, req.params.propertyName!);
  if (!current) throw notFound(`Unable to find property ${req.params.propertyName} for object type ${type.objectTypeId}`);
  if (!current.modificationMetadata.archivable) {
    throw validationError(`Property ${current.name} is HubSpot-defined and cannot be archived.`);
  }
  ctx.store.archiveProperty(type, current.name);
  return { status: 204 };
}

/** Property groups, as the definitions name them (the simulator keeps no separate group records). */
function listGroups(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  const names = [...new Set(ctx.store.propertyDefinitions(type).filter((p) => !p.archived).map((p) => p.groupName))].sort();
  const label = (n: string): string => n.replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase());
  return { status: 200, body: { results: names.map((name, i) => ({ name, label: label(name), displayOrder: i, archived: false })) } };
}

export function registerPropertyRoutes(router: Router): void {
  router.route("GET", "/crm/v3/properties/{objectType}/groups", listGroups);
  router.route("GET", "/crm/v3/properties/{objectType}", listProperties);
  router.route("POST", "/crm/v3/properties/{objectType}", createProperty);
  router.route("GET", "/crm/v3/properties/{objectType}/{propertyName}", getProperty);
  router.route("PATCH", "/crm/v3/properties/{objectType}/{propertyName}", updateProperty);
  router.route("DELETE", "/crm/v3/properties/{objectType}/{propertyName}", archiveProperty);
}
