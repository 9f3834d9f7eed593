import { z } from "zod";
import { conflict, HubSpotError, notFound, validationError, type ErrorBody } from "./http-errors.ts";
import type { ObjectTypeDef } from "./object-types.ts";
import { boolParam, decodeCursor, encodeCursor, limitParam, listParam } from "./params.ts";
import type { Router, SimContext, SimRequest, SimResponse } from "./router.ts";
import { batchEnvelope, serializeRecord, type PublicObject } from "./serialize.ts";
import type { Store, StoredRecord } from "./store.ts";
import {
  adminRuleProblems,
  conflictMessage,
  findUniqueConflict,
  propertyProblemsMessage,
  propertyValidationError,
  validateProperties,
  type PropertyProblem,
} from "./validation.ts";
import { embeddedAssociations, planCreateAssociations } from "./associations-routes.ts";

/**
 * CRM objects v3: list, get, create, update, archive, the batch
 * endpoints with their 100-input cap and 207 partial results, upsert on unique-value
 * properties, and merge. Search lives in search.ts.
 */

const BATCH_MAX = 100;

const Props = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));
const CreateBody = z.object({ properties: Props.default({}), associations: z.array(z.unknown()).optional() });
const UpdateBody = z.object({ properties: Props });
const BatchReadBody = z.object({
  inputs: z.array(z.object({ id: z.union([z.string(), z.number()]).transform(String) })),
  properties: z.array(z.string()).optional(),
  propertiesWithHistory: z.array(z.string()).optional(),
  idProperty: z.string().optional(),
});
const BatchCreateBody = z.object({
  inputs: z.array(z.object({ properties: Props.default({}), associations: z.array(z.unknown()).optional(), objectWriteTraceId: z.string().optional() })),
});
const BatchUpdateBody = z.object({
  inputs: z.array(
    z.object({
      id: z.union([z.string(), z.number()]).transform(String),
      properties: Props,
      idProperty: z.string().optional(),
      objectWriteTraceId: z.string().optional(),
    }),
  ),
});
const BatchUpsertBody = z.object({
  inputs: z.array(
    z.object({
      id: z.union([z.string(), z.number()]).transform(String),
      idProperty: z.string(),
      properties: Props.default({}),
      objectWriteTraceId: z.string().optional(),
    }),
  ),
});
const BatchArchiveBody = z.object({ inputs: z.array(z.object({ id: z.union([z.string(), z.number()]).transform(String) })) });
const GdprBody = z.object({ objectId: z.union([z.string(), z.number()]).transform(String), idProperty: z.string().optional() });
const MergeBody = z.object({
  primaryObjectId: z.union([z.string(), z.number()]).transform(String),
  objectIdToMerge: z.union([z.string(), z.number()]).transform(String),
});

/** Parses a request body with zod; failures become HubSpot's 400 VALIDATION_ERROR. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.join(".") || "body";
  throw validationError(`Invalid input JSON on line 1: ${where}: ${issue?.message ?? "invalid"}`, {
    errors: parsed.error.issues.slice(0, 10).map((i) => ({ message: i.message, in: i.path.join(".") })),
  });
}

export function requireType(store: Store, ref: string): ObjectTypeDef {
  const type = store.resolveType(ref);
  if (!type) {
    throw new HubSpotError(400, "VALIDATION_ERROR", `Unable to infer object type from: ${ref}`, { context: { objectType: [ref] } });
  }
  return type;
}

function checkBatchSize(ctx: SimContext, n: number): void {
  if (n > BATCH_MAX && !ctx.config.clampLimits) {
    throw validationError(`Batch input limit exceeded: ${n} inputs given, at most ${BATCH_MAX} are allowed.`, {
      context: { inputs: [String(n)] },
    });
  }
}

function errorEntry(category: string, message: string, context: Record<string, string[]>, extra: Partial<ErrorBody> = {}) {
  return { status: "error", category, message, context, errors: [], links: {}, ...extra };
}

/** The record a path id means: by id, by a unique property, or through a merge. */
function lookup(ctx: SimContext, type: ObjectTypeDef, id: string, idProperty: string | null, followMerges: boolean): StoredRecord | undefined {
  const { store } = ctx;
  if (idProperty && idProperty !== "hs_object_id") {
    if (!store.isIdProperty(type, idProperty)) {
      throw validationError(`${idProperty} is not a unique property and cannot be used as idProperty`, { context: { idProperty: [idProperty] } });
    }
    return store.findByUnique(type, idProperty, id);
  }
  const r = store.getRecord(type, id);
  if (r) return r;
  if (!followMerges) return undefined;
  const winner = store.mergedInto(type, id);
  return winner ? store.getRecord(type, winner) : undefined;
}

function serialize(ctx: SimContext, type: ObjectTypeDef, r: StoredRecord, properties: string[] | null | "all", propertiesWithHistory: string[] | null = null): PublicObject {
  return serializeRecord(ctx.store, type, r, { properties, emptyAs: ctx.config.emptyProperties, propertiesWithHistory });
}

export const LIST_WITH_HISTORY_LIMIT = 50;

function list(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  const history = listParam(req.query, "propertiesWithHistory");
  // HubSpot: asking for history "will reduce the maximum number of objects that can be read by a
  // single request"; a list page with history holds at most 50.
  const limit = limitParam(req.query.get("limit"), 10, history?.length ? LIST_WITH_HISTORY_LIMIT : 100, ctx.config.clampLimits);
  const archived = boolParam(req.query, "archived");
  const after = decodeCursor(req.query.get("after"));
  const properties = listParam(req.query, "properties");
  const assoc = listParam(req.query, "associations");
  const { page, more } = ctx.store.pageRecords(type, archived, after, limit);
  const results = page.map((r) => withAssociations(ctx, type, r, serialize(ctx, type, r, properties, history), assoc));
  const body: Record<string, unknown> = { results };
  const last = page[page.length - 1];
  if (more && last) {
    const cursor = encodeCursor(last.idNum);
    body.paging = { next: { after: cursor, link: `?after=${cursor}` } };
  }
  return { status: 200, body };
}

function withAssociations(ctx: SimContext, type: ObjectTypeDef, r: StoredRecord, obj: PublicObject, toTypes: string[] | null): PublicObject {
  if (!toTypes || toTypes.length === 0) return obj;
  const embedded = embeddedAssociations(ctx.store, type, r.id, toTypes, ctx.config.embeddedAssociationsLimit);
  return embedded ? { ...obj, associations: embedded } as PublicObject : obj;
}

function getOne(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  const archived = boolParam(req.query, "archived");
  const id = req.params.objectId!;
  const idProperty = req.query.get("idProperty");
  const r = lookup(ctx, type, id, idProperty, ctx.config.mergedIdLookup === "winner");
  if (!r || r.archived !== archived) throw notFound(`Object not found.  objectId are usually numeric.`, { id: [id] });
  const obj = serialize(ctx, type, r, listParam(req.query, "properties"), listParam(req.query, "propertiesWithHistory"));
  return { status: 200, body: withAssociations(ctx, type, r, obj, listParam(req.query, "associations")) };
}

function create(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  const body = parseBody(CreateBody, req.body);
  const { values, problems } = validateProperties(ctx.store, type, body.properties);
  problems.push(...adminRuleProblems(ctx.config, req.path, type, values));
  if (problems.length) throw propertyValidationError(ctx.store, problems);
  const dup = findUniqueConflict(ctx.store, type, values);
  if (dup) throw conflict(conflictMessage(type, dup));
  const associate = planCreateAssociations(ctx.store, type, body.associations);
  const r = ctx.store.createRecord(type, values);
  associate(r.id);
  return { status: 201, body: serialize(ctx, type, r, "all") };
}

function update(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  const body = parseBody(UpdateBody, req.body);
  const id = req.params.objectId!;
  // HubSpot's single update endpoint accepts merged-away ids (its batch update does not).
  const r = lookup(ctx, type, id, req.query.get("idProperty"), true);
  if (!r || r.archived) throw notFound(`Object not found.  objectId are usually numeric.`, { id: [id] });
  const { values, problems } = validateProperties(ctx.store, type, body.properties, { existing: r });
  problems.push(...adminRuleProblems(ctx.config, req.path, type, values, r));
  if (problems.length) throw propertyValidationError(ctx.store, problems);
  const dup = findUniqueConflict(ctx.store, type, values, r.id);
  if (dup) throw conflict(conflictMessage(type, dup));
  const updated = ctx.store.updateRecord(type, r.id, values)!;
  return { status: 200, body: serialize(ctx, type, updated, "all") };
}

function archive(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  // Archiving something already gone answers 204 as well.
  ctx.store.archiveRecord(type, req.params.objectId!);
  return { status: 204 };
}

function batchRead(req: SimRequest, ctx: SimContext): SimResponse {
  const started = Date.now();
  const type = requireType(ctx.store, req.params.objectType!);
  const body = parseBody(BatchReadBody, req.body);
  checkBatchSize(ctx, body.inputs.length);
  const archived = boolParam(req.query, "archived");
  const results: PublicObject[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  for (const { id } of body.inputs) {
    const r = lookup(ctx, type, id, body.idProperty ?? null, ctx.config.mergedIdLookup === "winner");
    if (!r || r.archived !== archived) {
      missing.push(id);
      continue;
    }
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    results.push(serialize(ctx, type, r, body.properties ?? null, body.propertiesWithHistory ?? null));
  }
  if (missing.length === 0) return { status: 200, body: { ...batchEnvelope(started), results } };
  return {
    status: 207,
    body: {
      ...batchEnvelope(started),
      results,
      numErrors: 1,
      errors: [
        errorEntry(
          "OBJECT_NOT_FOUND",
          `Could not get some ${type.errorName} objects, they may be deleted or not exist. Check that ids are valid.`,
          { ids: missing },
        ),
      ],
    },
  };
}

interface InputOutcome {
  traceId: string | undefined;
  problems?: PropertyProblem[];
  conflict?: string;
}

/**
 * HubSpot's rule for invalid inputs in batch writes: per-input errors (207) exist for batch create
 * only, and only with an objectWriteTraceId on every input; otherwise (and on update and upsert
 * unless `partialBatchWrites` says "all") one bad input refuses the whole batch with a 400 that
 * describes that input's problems and does not say which input it was.
 */
function batchFailures(ctx: SimContext, kind: "create" | "update" | "upsert", outcomes: InputOutcome[]): { partial: boolean; errors: unknown[] } | null {
  const bad = outcomes.filter((o) => o.problems?.length || o.conflict);
  if (bad.length === 0) return null;
  const partial = (kind === "create" || ctx.config.partialBatchWrites === "all") && outcomes.every((o) => o.traceId !== undefined);
  if (!partial) {
    const first = bad[0]!;
    if (first.conflict) throw conflict(first.conflict);
    throw propertyValidationError(ctx.store, first.problems!);
  }
  const errors = bad.map((o) =>
    o.conflict
      ? errorEntry("CONFLICT", o.conflict, { objectWriteTraceId: [o.traceId!] })
      : errorEntry("VALIDATION_ERROR", propertyProblemsMessage(ctx.store, o.problems!), { objectWriteTraceId: [o.traceId!] }),
  );
  return { partial, errors };
}

function batchCreate(req: SimRequest, ctx: SimContext): SimResponse {
  const started = Date.now();
  const type = requireType(ctx.store, req.params.objectType!);
  const body = parseBody(BatchCreateBody, req.body);
  checkBatchSize(ctx, body.inputs.length);
  const claimed = new Map<string, string>();
  const prepared = body.inputs.map((input) => {
    const { values, problems } = validateProperties(ctx.store, type, input.properties);
    problems.push(...adminRuleProblems(ctx.config, req.path, type, values));
    const outcome: InputOutcome = { traceId: input.objectWriteTraceId, problems };
    if (!problems.length) {
      const dup = findUniqueConflict(ctx.store, type, values);
      if (dup) outcome.conflict = conflictMessage(type, dup);
      for (const [k, v] of Object.entries(values)) {
        if (outcome.conflict || !v || !ctx.store.isIdProperty(type, k)) continue;
        const key = `${k}\u0000${k === "email" ? v.toLowerCase() : v}`;
        if (claimed.has(key)) outcome.conflict = `Duplicate ${k} "${v}" within the batch`;
        claimed.set(key, "batch");
      }
    }
    return { input, values, outcome };
  });
  const failures = batchFailures(ctx, "create", prepared.map((p) => p.outcome));
  const good = prepared.filter((p) => !p.outcome.problems?.length && !p.outcome.conflict);
  // Association problems refuse the batch before anything is written.
  const plans = good.map((p) => planCreateAssociations(ctx.store, type, p.input.associations));
  const results = good
    .map((p, i) => {
      const r = ctx.store.createRecord(type, p.values);
      plans[i]!(r.id);
      const obj: PublicObject & { objectWriteTraceId?: string } = serialize(ctx, type, r, "all");
      if (p.input.objectWriteTraceId) obj.objectWriteTraceId = p.input.objectWriteTraceId;
      return obj;
    });
  if (!failures) return { status: 201, body: { ...batchEnvelope(started), results } };
  return { status: 207, body: { ...batchEnvelope(started), results, numErrors: failures.errors.length, errors: failures.errors } };
}

function batchUpdate(req: SimRequest, ctx: SimContext): SimResponse {
  const started = Date.now();
  const type = requireType(ctx.store, req.params.objectType!);
  const body = parseBody(BatchUpdateBody, req.body);
  checkBatchSize(ctx, body.inputs.length);
  const missing: string[] = [];
  const prepared: Array<{ record: StoredRecord; values: Record<string, string>; traceId?: string; outcome: InputOutcome }> = [];
  for (const input of body.inputs) {
    // HubSpot does not accept merged-away ids here, unlike the single update; how it says so is
    // not documented, hence the setting.
    const record = lookup(ctx, type, input.id, input.idProperty ?? null, false);
    if ((!record || record.archived) && !input.idProperty && ctx.store.mergedInto(type, input.id)) {
      if (ctx.config.mergedIdBatchUpdate === "omit") continue;
      if (ctx.config.mergedIdBatchUpdate === "refuse") {
        throw validationError(`Object ${input.id} was merged into another ${type.singular}; batch update does not accept merged record ids`, { context: { ids: [input.id] } });
      }
    }
    if (!record || record.archived) {
      missing.push(input.id);
      continue;
    }
    const { values, problems } = validateProperties(ctx.store, type, input.properties, { existing: record });
    problems.push(...adminRuleProblems(ctx.config, req.path, type, values, record));
    const outcome: InputOutcome = { traceId: input.objectWriteTraceId, problems };
    if (!problems.length) {
      const dup = findUniqueConflict(ctx.store, type, values, record.id);
      if (dup) outcome.conflict = conflictMessage(type, dup);
    }
    prepared.push({ record, values, traceId: input.objectWriteTraceId, outcome });
  }
  if (missing.length && prepared.length === 0) {
    throw notFound(`Could not get some ${type.errorName} objects, they may be deleted or not exist. Check that ids are valid.`, { ids: missing });
  }
  const failures = batchFailures(ctx, "update", prepared.map((p) => p.outcome));
  const results = prepared
    .filter((p) => !p.outcome.problems?.length && !p.outcome.conflict)
    .map((p) => {
      const r = ctx.store.updateRecord(type, p.record.id, p.values)!;
      const obj: PublicObject & { objectWriteTraceId?: string } = serialize(ctx, type, r, "all");
      if (p.traceId) obj.objectWriteTraceId = p.traceId;
      return obj;
    });
  const errors: unknown[] = [...(failures?.errors ?? [])];
  if (missing.length) {
    errors.push(errorEntry("OBJECT_NOT_FOUND", `Could not get some ${type.errorName} objects, they may be deleted or not exist. Check that ids are valid.`, { ids: missing }));
  }
  if (errors.length === 0) return { status: 200, body: { ...batchEnvelope(started), results } };
  return { status: 207, body: { ...batchEnvelope(started), results, numErrors: errors.length, errors } };
}

function batchUpsert(req: SimRequest, ctx: SimContext): SimResponse {
  const started = Date.now();
  const type = requireType(ctx.store, req.params.objectType!);
  const body = parseBody(BatchUpsertBody, req.body);
  checkBatchSize(ctx, body.inputs.length);
  for (const input of body.inputs) {
    if (input.idProperty === "hs_object_id" || !ctx.store.isIdProperty(type, input.idProperty)) {
      throw validationError(`${input.idProperty} is not a unique property; upsert needs a property with hasUniqueValue${type.name === "contacts" ? " or email" : ""}`, {
        context: { idProperty: [input.idProperty] },
      });
    }
  }
  const prepared = body.inputs.map((input) => {
    const existing = ctx.store.findByUnique(type, input.idProperty, input.id);
    const all = { ...input.properties, [input.idProperty]: input.id };
    const { values, problems } = validateProperties(ctx.store, type, existing ? input.properties : all, existing ? { existing } : {});
    problems.push(...adminRuleProblems(ctx.config, req.path, type, values, existing ?? undefined));
    const outcome: InputOutcome = { traceId: input.objectWriteTraceId, problems };
    if (!problems.length) {
      const dup = findUniqueConflict(ctx.store, type, values, existing?.id);
      if (dup) outcome.conflict = conflictMessage(type, dup);
    }
    return { input, existing, values, outcome };
  });
  const failures = batchFailures(ctx, "upsert", prepared.map((p) => p.outcome));
  const results = prepared
    .filter((p) => !p.outcome.problems?.length && !p.outcome.conflict)
    .map((p) => {
      // An earlier input of the same batch may have created it.
      const existing = p.existing ?? ctx.store.findByUnique(type, p.input.idProperty, p.input.id);
      const r = existing ? ctx.store.updateRecord(type, existing.id, p.values)! : ctx.store.createRecord(type, p.values);
      const obj: PublicObject & { new?: boolean; objectWriteTraceId?: string } = { ...serialize(ctx, type, r, "all"), new: !existing };
      if (p.input.objectWriteTraceId) obj.objectWriteTraceId = p.input.objectWriteTraceId;
      return obj;
    });
  if (!failures) return { status: 200, body: { ...batchEnvelope(started), results } };
  return { status: 207, body: { ...batchEnvelope(started), results, numErrors: failures.errors.length, errors: failures.errors } };
}

function batchArchive(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  const body = parseBody(BatchArchiveBody, req.body);
  checkBatchSize(ctx, body.inputs.length);
  for (const { id } of body.inputs) ctx.store.archiveRecord(type, id);
  return { status: 204 };
}

function merge(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  const body = parseBody(MergeBody, req.body);
  if (body.primaryObjectId === body.objectIdToMerge) throw validationError("Cannot merge an object with itself");
  for (const id of [body.primaryObjectId, body.objectIdToMerge]) {
    const r = ctx.store.getRecord(type, id);
    if (!r || r.archived) throw notFound(`Object not found.  objectId are usually numeric.`, { id: [id] });
  }
  const merged = ctx.store.mergeRecords(type, body.primaryObjectId, body.objectIdToMerge)!;
  return { status: 200, body: serialize(ctx, type, merged, "all") };
}

/** Contacts only (HubSpot's GDPR delete): permanent; an unknown email is "blocklisted" and still answers 204. */
function gdprDelete(req: SimRequest, ctx: SimContext): SimResponse {
  const type = requireType(ctx.store, req.params.objectType!);
  if (type.name !== "contacts") throw notFound(`GDPR delete is only available for contacts`);
  const body = parseBody(GdprBody, req.body);
  const record = body.idProperty ? ctx.store.findByUnique(type, body.idProperty, body.objectId) : ctx.store.getRecord(type, body.objectId);
  if (!record) {
    if (body.idProperty === "email") return { status: 204 };
    throw notFound(`Object not found.  objectId are usually numeric.`, { id: [body.objectId] });
  }
  ctx.store.purgeRecord(type, record.id);
  return { status: 204 };
}

export function registerObjectRoutes(router: Router): void {
  router.route("POST", "/crm/v3/objects/{objectType}/gdpr-delete", gdprDelete);
  const base = "/crm/v3/objects/{objectType}";
  router.route("GET", base, list);
  router.route("POST", base, create);
  router.route("POST", `${base}/batch/read`, batchRead);
  router.route("POST", `${base}/batch/create`, batchCreate);
  router.route("POST", `${base}/batch/update`, batchUpdate);
  router.route("POST", `${base}/batch/upsert`, batchUpsert);
  router.route("POST", `${base}/batch/archive`, batchArchive);
  router.route("POST", `${base}/merge`, merge);
  router.route("GET", `${base}/{objectId}`, getOne);
  router.route("PATCH", `${base}/{objectId}`, update);
  router.route("DELETE", `${base}/{objectId}`, archive);
}
