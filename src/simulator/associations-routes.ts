/**
 * HTTP handlers for associations: the v4 record endpoints (batch read/create/archive, basicApi),
 * the v4 label definitions (both path families the SDK and the spec use), the limits configuration
 * read, and the simulator's own /_sim/associations control endpoints. Handlers are plain functions of
 * (params, query, body) → {status, body} that throw HubSpotError, so the server's router plugs them in as-is.
 */
import { z } from "zod";
import { associationsOf, type AssociationStore } from "./associations.ts";
import type { AssociationTypeDef } from "./association-types.ts";
import { HubSpotError, validationError } from "./http-errors.ts";
import type { ObjectTypeDef } from "./object-types.ts";
import type { Store } from "./store.ts";

export interface RouteRequest {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
}

export interface RouteResponse {
  status: number;
  body?: unknown;
}

export interface Route {
  method: "GET" | "POST" | "PUT" | "DELETE" | "PATCH";
  /** Path with `{name}` placeholders, e.g. "/crm/v4/associations/{from}/{to}/batch/read". */
  path: string;
  handler: (req: RouteRequest) => RouteResponse;
}

export interface AssociationRouteOptions {
  /** Targets per from-id page of batch/read and per page of the basic GET (HubSpot: 500); a function to follow live configuration. */
  pageSize?: number | (() => number);
  /** Max inputs of batch/read (HubSpot: 1,000). */
  readLimit?: number;
  /** Max inputs of batch/create and the other write batches (HubSpot: 2,000). */
  writeLimit?: number;
}

/** A batch `errors[]` entry (spec `StandardError`: errors, context and links are required). */
function standardError(category: string, message: string, context: Record<string, string[]>, subCategory?: string) {
  return { status: "error", category, ...(subCategory ? { subCategory } : {}), message, context, errors: [], links: {} };
}

const idSchema = z.union([z.string(), z.number()]).transform(String);
const specSchema = z.object({
  associationCategory: z.enum(["HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED", "WORK"]),
  associationTypeId: z.coerce.number().int(),
});
const readBody = z.object({ inputs: z.array(z.object({ id: idSchema, after: z.string().optional() })) });
const createBody = z.object({
  inputs: z.array(z.object({ from: z.object({ id: idSchema }), to: z.object({ id: idSchema }), types: z.array(specSchema) })),
});
const defaultBody = z.object({ inputs: z.array(z.object({ from: z.object({ id: idSchema }), to: z.object({ id: idSchema }) })) });
const archiveBody = z.object({
  inputs: z.array(z.object({ from: z.object({ id: idSchema }), to: z.array(z.object({ id: idSchema })) })),
});
const labelCreateBody = z.object({ label: z.string().min(1), name: z.string().min(1), inverseLabel: z.string().min(1).optional() });
const labelUpdateBody = z.object({ associationTypeId: z.coerce.number().int(), label: z.string().min(1), inverseLabel: z.string().min(1).optional() });
const controlBody = z.object({
  fromType: z.string(),
  fromId: idSchema,
  toType: z.string(),
  toId: idSchema,
  typeIds: z.array(z.number().int()).optional(),
});

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const detail = result.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
  throw validationError(`Invalid input JSON: ${detail}`);
}

function checkLimit(count: number, limit: number): void {
  if (count > limit) {
    throw validationError(`Batch input size of ${count} exceeds the limit of ${limit} inputs.`, {
      context: { limit: [String(limit)], size: [String(count)] },
    });
  }
}

export function associationRoutes(store: Store, options: AssociationRouteOptions = {}): Route[] {
  const size = options.pageSize ?? 500;
  const currentPageSize = typeof size === "function" ? size : () => size;
  const readLimit = options.readLimit ?? 1000;
  const writeLimit = options.writeLimit ?? 2000;
  const assoc = (): AssociationStore => associationsOf(store);

  const resolve = (name: string | undefined): ObjectTypeDef => {
    const type = name ? store.resolveType(decodeURIComponent(name)) : undefined;
    if (!type) throw validationError(`Unable to infer object type from: ${name}`);
    return type;
  };
  const pair = (req: RouteRequest, a = "from", b = "to"): [ObjectTypeDef, ObjectTypeDef] => [resolve(req.params[a]), resolve(req.params[b])];
  const numericId = (id: string): number | undefined => (/^\d+$/.test(id) ? Number(id) : undefined);
  const live = (type: ObjectTypeDef, id: string): number | undefined => {
    const n = numericId(id);
    return n !== undefined && assoc().isLive(type.objectTypeId, n) ? n : undefined;
  };

  const specOf = (def: AssociationTypeDef) => ({ category: def.category, typeId: def.typeId, label: def.label });
  const labelsOf = (defs: AssociationTypeDef[]) => defs.map((d) => d.label).filter((l): l is string => l !== null);
  const pairResult = (from: ObjectTypeDef, fromId: number, to: ObjectTypeDef, toId: number, defs: AssociationTypeDef[]) => ({
    fromObjectTypeId: from.objectTypeId,
    fromObjectId: fromId,
    toObjectTypeId: to.objectTypeId,
    toObjectId: toId,
    labels: labelsOf(defs),
  });
  const times = () => {
    const now = new Date().toISOString();
    return { startedAt: now, completedAt: now };
  };
  /** The type ids asked for, checked against the pair's definitions (and their categories). */
  const typeIdsFor = (from: ObjectTypeDef, to: ObjectTypeDef, specs: Array<z.infer<typeof specSchema>>): number[] | string => {
    const ids: number[] = [];
    for (const s of specs) {
      const def = assoc().types.get(from.objectTypeId, to.objectTypeId, s.associationTypeId);
      if (!def || def.category !== s.associationCategory) {
        return `${s.associationCategory} association type ${s.associationTypeId} doesn't exist between ${from.singular} and ${to.singular}`;
      }
      ids.push(def.typeId);
    }
    return ids;
  };
  const notFound = (type: ObjectTypeDef, id: string) => `No ${type.singular} with id ${id} exists`;
  /** A batch answer: status COMPLETE, the results, and numErrors/errors only when some inputs failed. */
  const batchBody = (results: unknown[], errors: unknown[]) => ({
    status: "COMPLETE",
    results,
    ...(errors.length ? { numErrors: errors.length, errors } : {}),
    ...times(),
  });
  /** The pair of the path and the body's inputs, within the endpoint's batch limit. */
  const batchInput = <T extends z.ZodType<{ inputs: unknown[] }>>(req: RouteRequest, schema: T, limit: number) => {
    const types = pair(req);
    const { inputs } = parse(schema, req.body) as { inputs: z.infer<T>["inputs"] };
    checkLimit(inputs.length, limit);
    return { from: types[0], to: types[1], inputs };
  };

  const batchRead = (req: RouteRequest): RouteResponse => {
    const { from, to, inputs } = batchInput(req, readBody, readLimit);
    const pageSize = currentPageSize();
    const results: unknown[] = [];
    const errors: unknown[] = [];
    for (const input of inputs) {
      const id = numericId(input.id);
      const page = id === undefined ? { results: [] } : assoc().page(from.objectTypeId, id, to.objectTypeId, { after: input.after, limit: pageSize });
      if (page.results.length === 0) {
        // HubSpot answers ids without associations with an error entry, not an empty result.
        errors.push(
          standardError(
            "OBJECT_NOT_FOUND",
            `No ${to.singular} is associated with ${from.singular} ${input.id}.`,
            { fromObjectId: [input.id], fromObjectType: [from.singular], toObjectType: [to.singular] },
            "crm.associations.NO_ASSOCIATIONS_FOUND",
          ),
        );
        continue;
      }
      results.push({
        from: { id: input.id },
        to: page.results.map((t) => ({ toObjectId: t.toObjectId, associationTypes: t.types.map(specOf) })),
        ...(page.after ? { paging: { next: { after: page.after } } } : {}),
      });
    }
    return { status: errors.length ? 207 : 200, body: batchBody(results, errors) };
  };

  const batchCreate = (req: RouteRequest): RouteResponse => {
    const { from, to, inputs } = batchInput(req, createBody, writeLimit);
    const results: unknown[] = [];
    const errors: unknown[] = [];
    for (const input of inputs) {
      const fromId = live(from, input.from.id);
      const toId = live(to, input.to.id);
      if (fromId === undefined || toId === undefined) {
        const [type, id] = fromId === undefined ? [from, input.from.id] : [to, input.to.id];
        errors.push(standardError("OBJECT_NOT_FOUND", notFound(type, id), { fromObjectId: [input.from.id], toObjectId: [input.to.id] }));
        continue;
      }
      const ids = typeIdsFor(from, to, input.types);
      if (typeof ids === "string") {
        errors.push(standardError("VALIDATION_ERROR", ids, { fromObjectId: [input.from.id], toObjectId: [input.to.id] }));
        continue;
      }
      const defs = assoc().set(from.objectTypeId, fromId, to.objectTypeId, toId, ids);
      results.push(pairResult(from, fromId, to, toId, defs));
    }
    return { status: errors.length ? 207 : 201, body: batchBody(results, errors) };
  };

  const defaultResults = (from: ObjectTypeDef, fromId: string, to: ObjectTypeDef, toId: string) => {
    const a = live(from, fromId);
    const b = live(to, toId);
    if (a === undefined || b === undefined) {
      const [type, id] = a === undefined ? [from, fromId] : [to, toId];
      return { error: standardError("OBJECT_NOT_FOUND", notFound(type, id), { fromObjectId: [fromId], toObjectId: [toId] }) };
    }
    assoc().add(from.objectTypeId, a, to.objectTypeId, b);
    const def = assoc().types.unlabeled(from.objectTypeId, to.objectTypeId);
    return {
      result: {
        from: { id: fromId },
        to: { id: toId },
        associationSpec: { associationCategory: def.category, associationTypeId: def.typeId },
      },
    };
  };

  const batchDefault = (req: RouteRequest): RouteResponse => {
    const { from, to, inputs } = batchInput(req, defaultBody, writeLimit);
    const results: unknown[] = [];
    const errors: unknown[] = [];
    for (const input of inputs) {
      const r = defaultResults(from, input.from.id, to, input.to.id);
      if (r.error) errors.push(r.error);
      else results.push(r.result);
    }
    return { status: 200, body: batchBody(results, errors) };
  };

  const batchArchive = (req: RouteRequest): RouteResponse => {
    const { from, to, inputs } = batchInput(req, archiveBody, writeLimit);
    for (const input of inputs) {
      const fromId = numericId(input.from.id);
      if (fromId === undefined) continue;
      for (const t of input.to) {
        const toId = numericId(t.id);
        if (toId !== undefined) assoc().remove(from.objectTypeId, fromId, to.objectTypeId, toId);
      }
    }
    return { status: 204 };
  };

  const batchLabelsArchive = (req: RouteRequest): RouteResponse => {
    const { from, to, inputs } = batchInput(req, createBody, writeLimit);
    for (const input of inputs) {
      const fromId = numericId(input.from.id);
      const toId = numericId(input.to.id);
      if (fromId === undefined || toId === undefined) continue;
      const ids = typeIdsFor(from, to, input.types);
      if (typeof ids === "string") throw validationError(ids);
      assoc().removeTypes(from.objectTypeId, fromId, to.objectTypeId, toId, ids);
    }
    return { status: 204 };
  };

  const basicList = (req: RouteRequest): RouteResponse => {
    const [from, to] = pair(req, "objectType", "toObjectType");
    const id = numericId(req.params.objectId ?? "");
    const pageSize = currentPageSize();
    const requested = Number(req.query.get("limit") ?? pageSize);
    const limit = Number.isFinite(requested) && requested > 0 ? Math.min(requested, pageSize) : pageSize;
    const after = req.query.get("after") ?? undefined;
    const page = id === undefined ? { results: [] } : assoc().page(from.objectTypeId, id, to.objectTypeId, { after, limit });
    return {
      status: 200,
      body: {
        results: page.results.map((t) => ({ toObjectId: t.toObjectId, associationTypes: t.types.map(specOf) })),
        ...(page.after ? { paging: { next: { after: page.after } } } : {}),
      },
    };
  };

  const requireLive = (type: ObjectTypeDef, id: string | undefined): number => {
    const n = live(type, id ?? "");
    if (n === undefined) throw new HubSpotError(404, "OBJECT_NOT_FOUND", notFound(type, id ?? ""), { context: { id: [id ?? ""] } });
    return n;
  };

  const basicPut = (req: RouteRequest): RouteResponse => {
    const [from, to] = pair(req, "objectType", "toObjectType");
    const fromId = requireLive(from, req.params.objectId);
    const toId = requireLive(to, req.params.toObjectId);
    const specs = parse(z.array(specSchema), req.body);
    const ids = typeIdsFor(from, to, specs);
    if (typeof ids === "string") throw validationError(ids);
    const defs = assoc().set(from.objectTypeId, fromId, to.objectTypeId, toId, ids);
    return { status: 201, body: pairResult(from, fromId, to, toId, defs) };
  };

  const basicDefault = (req: RouteRequest): RouteResponse => {
    const [from, to] = pair(req, "fromObjectType", "toObjectType");
    const r = defaultResults(from, req.params.fromObjectId ?? "", to, req.params.toObjectId ?? "");
    if (r.error) throw new HubSpotError(404, "OBJECT_NOT_FOUND", r.error.message, { context: r.error.context });
    return { status: 200, body: { status: "COMPLETE", results: [r.result], ...times() } };
  };

  const basicDelete = (req: RouteRequest): RouteResponse => {
    const [from, to] = pair(req, "objectType", "toObjectType");
    const fromId = numericId(req.params.objectId ?? "");
    const toId = numericId(req.params.toObjectId ?? "");
    if (fromId !== undefined && toId !== undefined) assoc().remove(from.objectTypeId, fromId, to.objectTypeId, toId);
    return { status: 204 };
  };

  const labelsList = (req: RouteRequest): RouteResponse => {
    const [from, to] = pair(req);
    return { status: 200, body: { results: assoc().types.list(from.objectTypeId, to.objectTypeId).map(specOf) } };
  };

  const labelsCreate = (req: RouteRequest): RouteResponse => {
    const [from, to] = pair(req);
    const input = parse(labelCreateBody, req.body);
    const existing = assoc().types.list(from.objectTypeId, to.objectTypeId);
    if (existing.some((d) => d.name === input.name || d.label === input.label)) {
      throw validationError(`An association label named ${input.name} already exists between ${from.singular} and ${to.singular}`);
    }
    const created = assoc().types.createLabel(from.objectTypeId, to.objectTypeId, input);
    return { status: 200, body: { results: created.map(specOf) } };
  };

  const labelsUpdate = (req: RouteRequest): RouteResponse => {
    const [from, to] = pair(req);
    const input = parse(labelUpdateBody, req.body);
    if (!assoc().types.updateLabel(from.objectTypeId, to.objectTypeId, input.associationTypeId, input.label, input.inverseLabel)) {
      throw validationError(`No USER_DEFINED association type ${input.associationTypeId} between ${from.singular} and ${to.singular}`);
    }
    return { status: 204 };
  };

  const labelsDelete = (req: RouteRequest): RouteResponse => {
    const [from, to] = pair(req);
    const typeId = Number(req.params.associationTypeId);
    const def = assoc().types.get(from.objectTypeId, to.objectTypeId, typeId);
    if (!def || def.category !== "USER_DEFINED" || def.unlabeled) {
      throw validationError(`No USER_DEFINED association type ${req.params.associationTypeId} between ${from.singular} and ${to.singular}`);
    }
    assoc().dropType(from.objectTypeId, to.objectTypeId, typeId);
    assoc().types.deleteLabel(from.objectTypeId, to.objectTypeId, typeId);
    return { status: 204 };
  };

  const configOf = (def: AssociationTypeDef) => ({ category: def.category, typeId: def.typeId, label: def.label });
  const configurationsAll = (): RouteResponse => {
    const results = assoc()
      .types.pairs()
      .flatMap(({ from, to }) => assoc().types.list(from, to).filter((d) => d.category === "USER_DEFINED" && !d.unlabeled))
      .map(configOf);
    return { status: 200, body: { results } };
  };
  const configurationsPair = (req: RouteRequest): RouteResponse => {
    const [from, to] = pair(req);
    return { status: 200, body: { results: assoc().types.list(from.objectTypeId, to.objectTypeId).map(configOf) } };
  };

  // ---- /_sim control endpoints (no HubSpot equivalent; used by SimulatorControl) ----------
  const controlTarget = (req: RouteRequest) => {
    const input = parse(controlBody, req.body);
    const from = resolve(input.fromType);
    const to = resolve(input.toType);
    const fromId = requireLive(from, input.fromId);
    const toId = requireLive(to, input.toId);
    return { input, from, to, fromId, toId };
  };
  const controlTypes = (from: ObjectTypeDef, to: ObjectTypeDef, typeIds: number[] | undefined): number[] => {
    for (const t of typeIds ?? []) {
      if (!assoc().types.get(from.objectTypeId, to.objectTypeId, t)) {
        throw validationError(`association type ${t} doesn't exist between ${from.singular} and ${to.singular}`);
      }
    }
    return typeIds ?? [];
  };
  const simAssociate = (req: RouteRequest): RouteResponse => {
    const { input, from, to, fromId, toId } = controlTarget(req);
    const defs = assoc().add(from.objectTypeId, fromId, to.objectTypeId, toId, controlTypes(from, to, input.typeIds));
    return { status: 200, body: pairResult(from, fromId, to, toId, defs) };
  };
  const simSetLabels = (req: RouteRequest): RouteResponse => {
    const { input, from, to, fromId, toId } = controlTarget(req);
    const defs = assoc().set(from.objectTypeId, fromId, to.objectTypeId, toId, controlTypes(from, to, input.typeIds));
    return { status: 200, body: pairResult(from, fromId, to, toId, defs) };
  };
  const simUnassociate = (req: RouteRequest): RouteResponse => {
    const input = parse(controlBody, req.body);
    const from = resolve(input.fromType);
    const to = resolve(input.toType);
    const fromId = numericId(input.fromId);
    const toId = numericId(input.toId);
    const removed = fromId !== undefined && toId !== undefined && assoc().remove(from.objectTypeId, fromId, to.objectTypeId, toId);
    return { status: 200, body: { removed } };
  };
  const simList = (req: RouteRequest): RouteResponse => {
    const from = resolve(req.query.get("fromType") ?? undefined);
    const to = resolve(req.query.get("toType") ?? undefined);
    const results = assoc()
      .list(from.objectTypeId, to.objectTypeId)
      .map((a) => ({
        fromId: String(a.fromId),
        toId: String(a.toId),
        types: a.typeIds.map((t) => specOf(assoc().types.get(from.objectTypeId, to.objectTypeId, t)!)),
      }));
    return { status: 200, body: { results } };
  };

  const routes: Route[] = [
    { method: "POST", path: "/crm/v4/associations/{from}/{to}/batch/read", handler: batchRead },
    { method: "POST", path: "/crm/v4/associations/{from}/{to}/batch/create", handler: batchCreate },
    { method: "POST", path: "/crm/v4/associations/{from}/{to}/batch/associate/default", handler: batchDefault },
    { method: "POST", path: "/crm/v4/associations/{from}/{to}/batch/archive", handler: batchArchive },
    { method: "POST", path: "/crm/v4/associations/{from}/{to}/batch/labels/archive", handler: batchLabelsArchive },
    { method: "GET", path: "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}", handler: basicList },
    { method: "PUT", path: "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}/{toObjectId}", handler: basicPut },
    { method: "DELETE", path: "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}/{toObjectId}", handler: basicDelete },
    {
      method: "PUT",
      path: "/crm/v4/objects/{fromObjectType}/{fromObjectId}/associations/default/{toObjectType}/{toObjectId}",
      handler: basicDefault,
    },
    { method: "POST", path: "/_sim/associations", handler: simAssociate },
    { method: "PUT", path: "/_sim/associations/labels", handler: simSetLabels },
    { method: "POST", path: "/_sim/associations/remove", handler: simUnassociate },
    { method: "GET", path: "/_sim/associations", handler: simList },
  ];
  // The SDK's definitionsApi uses /crm/v4/associations/…, the spec /crm/associations/v4/…: both are served.
  for (const prefix of ["/crm/v4/associations", "/crm/associations/v4"]) {
    const base = `${prefix}/{from}/{to}/labels`;
    routes.push(
      { method: "GET", path: `${prefix}/definitions/configurations/all`, handler: configurationsAll },
      { method: "GET", path: `${prefix}/definitions/configurations/{from}/{to}`, handler: configurationsPair },
      { method: "GET", path: base, handler: labelsList },
      { method: "POST", path: base, handler: labelsCreate },
      { method: "PUT", path: base, handler: labelsUpdate },
      { method: "DELETE", path: `${base}/{associationTypeId}`, handler: labelsDelete },
    );
  }
  return routes;
}

/** One target type's embedded associations: `paging.next` when the record has more than the embed limit. */
export interface EmbeddedAssociations {
  results: Array<{ id: string; type: string }>;
  paging?: { next: { after: string; link: string } };
}

/** HubSpot's primary type of a pair, in either direction (the inverse of contact→company 1 is company→contact 2). */
function isPrimary(def: AssociationTypeDef): boolean {
  return def.primary === true || (def.category === "HUBSPOT_DEFINED" && def.label === "Primary");
}

/**
 * The `associations` query parameter on object GET/list: `{ "<plural>": { results: [{id, type}] } }`,
 * one entry per (target, type) as HubSpot repeats targets: "contact_to_company" for the primary,
 * "contact_to_company_unlabeled" for the pair's default type (plain "contact_to_deal" where the
 * pair has no primary), a label's internal name (or its label) for the others. At most `limit`
 * entries per target type, then a `paging.next` cursor (the last target id sent). Types the portal
 * doesn't know are skipped, as HubSpot ignores them.
 */
export function embeddedAssociations(store: Store, type: ObjectTypeDef, id: string, toTypes: string[], limit = Number.MAX_SAFE_INTEGER): Record<string, EmbeddedAssociations> | undefined {
  const assoc = associationsOf(store);
  const out: Record<string, EmbeddedAssociations> = {};
  for (const name of toTypes) {
    const to = store.resolveType(name);
    if (!to) continue;
    const page = assoc.page(type.objectTypeId, Number(id), to.objectTypeId, { limit: Number.MAX_SAFE_INTEGER });
    if (page.results.length === 0) continue;
    const base = `${type.singular}_to_${to.singular}`;
    const hasPrimary = assoc.types.list(type.objectTypeId, to.objectTypeId).some(isPrimary);
    const results: Array<{ id: string; type: string }> = [];
    let cut: number | undefined;
    for (const target of page.results) {
      if (results.length + target.types.length > limit) {
        cut = results.length > 0 ? Number(results[results.length - 1]!.id) : undefined;
        break;
      }
      for (const def of target.types) {
        const label = isPrimary(def) ? base : def.unlabeled ? (hasPrimary ? `${base}_unlabeled` : base) : (def.name ?? def.label ?? base);
        results.push({ id: String(target.toObjectId), type: label });
      }
    }
    const entry: EmbeddedAssociations = { results };
    if (cut !== undefined || results.length < page.results.reduce((n, t) => n + t.types.length, 0)) {
      const after = String(cut ?? 0);
      entry.paging = { next: { after, link: `/crm/v4/objects/${type.objectTypeId}/${id}/associations/${to.objectTypeId}?after=${after}` } };
    }
    out[to.name] = entry;
  }
  return Object.keys(out).length ? out : undefined;
}

const createAssociationsSchema = z.array(z.object({ to: z.object({ id: idSchema }), types: z.array(specSchema).min(1) }));

/**
 * The `associations` of an object create (`SimplePublicObjectInputForCreate`): `[{to:{id}, types}]`.
 * HubSpot infers the target object type from the type ids (they are unique per source type), so
 * this checks everything first — a bad one must fail the create with a 400 before any record
 * exists — and returns the function that writes them once the new record has its id.
 */
export function planCreateAssociations(store: Store, type: ObjectTypeDef, input: unknown): (recordId: string) => void {
  if (input === undefined) return () => {};
  const parsed = createAssociationsSchema.safeParse(input);
  if (!parsed.success) throw validationError(`Invalid associations: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const assoc = associationsOf(store);
  const targets = assoc.types.pairs().filter((p) => p.from === type.objectTypeId).map((p) => p.to);
  const writes = parsed.data.map((a) => {
    const to = targets.find((t) => a.types.every((s) => assoc.types.get(type.objectTypeId, t, s.associationTypeId)?.category === s.associationCategory));
    if (!to) {
      const ids = a.types.map((s) => `${s.associationCategory} ${s.associationTypeId}`).join(", ");
      throw validationError(`association type ${ids} is not defined for ${type.singular}`);
    }
    const toId = /^\d+$/.test(a.to.id) ? Number(a.to.id) : NaN;
    if (!assoc.isLive(to, toId)) throw validationError(`No ${store.resolveType(to)?.singular ?? to} with id ${a.to.id} exists to associate with`);
    return { to, toId, typeIds: a.types.map((s) => s.associationTypeId) };
  });
  return (recordId) => {
    for (const w of writes) assoc.add(type.objectTypeId, Number(recordId), w.to, w.toId, w.typeIds);
  };
}

/**
 * A custom object schema's `associatedObjects` ("CONTACT", "0-2", another custom name): the pairs get
 * their default association type now, so `ObjectSchema.associations[].id` can be used as an
 * associationTypeId right away, as with HubSpot. Unknown names are a 400.
 */
export function defineSchemaAssociations(store: Store, type: ObjectTypeDef, associatedObjects: string[] = []): void {
  const assoc = associationsOf(store);
  for (const name of associatedObjects) {
    const to = store.resolveType(name);
    if (!to) throw validationError(`Unable to infer object type from: ${name}`);
    assoc.types.unlabeled(type.objectTypeId, to.objectTypeId);
  }
}

/** `ObjectSchema.associations`: the default association type of each pair the object has, from its side. */
export function schemaAssociations(store: Store, type: ObjectTypeDef): Array<{ id: string; fromObjectTypeId: string; toObjectTypeId: string; name: string }> {
  const assoc = associationsOf(store);
  return assoc.types
    .pairs()
    .filter((p) => p.from === type.objectTypeId)
    .map((p) => ({ def: assoc.types.unlabeled(p.from, p.to), to: store.resolveType(p.to) }))
    .filter((x): x is { def: AssociationTypeDef; to: ObjectTypeDef } => x.to !== undefined)
    .map(({ def, to }) => ({
      id: String(def.typeId),
      fromObjectTypeId: type.objectTypeId,
      toObjectTypeId: to.objectTypeId,
      name: `${type.singular}_to_${to.singular}`.toUpperCase(),
    }));
}
