/**
 * Shapes shared by every HubSpot CRM spec (our own zod, written from the components of
 * HubSpot/HubSpot-public-api-spec-collection @ 99893791, e.g. CRM/Objects/Rollouts/424/v3/objects.json).
 * Required/optional follow the spec's `required` lists. Success shapes are strict: the spec lists every
 * field, so anything else the simulator sends is a conformance bug. Deviations from the spec that
 * HubSpot's real responses show (and the reference records) are marked DEVIATION.
 */
import { z } from "zod";

export const dateTime = z.iso.datetime({ offset: true });
export const int32 = z.int().min(-(2 ** 31)).max(2 ** 31 - 1);
export const stringMap = z.record(z.string(), z.string());
export const contextMap = z.record(z.string(), z.array(z.string()));

/** ErrorDetail: message required; code, in, subCategory, context optional. */
export const ErrorDetail = z.strictObject({
  message: z.string(),
  code: z.string().optional(),
  in: z.string().optional(),
  subCategory: z.string().optional(),
  context: contextMap.optional(),
});

/**
 * Error (the body of every non-2xx answer): category, correlationId (uuid), message required.
 * DEVIATION: HubSpot also sends `"status":"error"` (documented examples in error-handling), and the
 * docs tell clients to treat everything as optional, so extra keys are allowed here.
 */
export const ErrorBody = z.looseObject({
  category: z.string(),
  correlationId: z.uuid(),
  message: z.string(),
  subCategory: z.string().optional(),
  context: contextMap.optional(),
  links: stringMap.optional(),
  errors: z.array(ErrorDetail).optional(),
  status: z.literal("error").optional(),
});

/**
 * StandardError (batch `errors[]` entries): status, category, message, errors, context, links required;
 * id and subCategory optional. The spec types subCategory as an (empty) object; HubSpot sends a string
 * such as "crm.associations.NO_ASSOCIATIONS_FOUND", so both are accepted.
 */
export const StandardError = z.strictObject({
  status: z.string(),
  category: z.string(),
  message: z.string(),
  errors: z.array(ErrorDetail),
  context: contextMap,
  links: stringMap,
  id: z.string().optional(),
  subCategory: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
});

export const NextPage = z.strictObject({ after: z.string(), link: z.string().optional() });
export const PreviousPage = z.strictObject({ before: z.string(), link: z.string().optional() });
export const ForwardPaging = z.strictObject({ next: NextPage.optional() });
export const Paging = z.strictObject({ next: NextPage.optional(), prev: PreviousPage.optional() });

const batchStatus = z.enum(["CANCELED", "COMPLETE", "PENDING", "PROCESSING"]);

/** BatchResponse<T>: status, results, startedAt, completedAt required; requestedAt, links optional. */
export function batchResponse<T extends z.ZodType>(item: T) {
  return z.strictObject({
    status: batchStatus,
    results: z.array(item),
    startedAt: dateTime,
    completedAt: dateTime,
    requestedAt: dateTime.optional(),
    links: stringMap.optional(),
  });
}

/** BatchResponse<T>WithErrors: the same plus optional numErrors and errors[StandardError]. */
export function batchResponseWithErrors<T extends z.ZodType>(item: T) {
  return batchResponse(item).extend({
    numErrors: int32.optional(),
    errors: z.array(StandardError).optional(),
  });
}

/** CollectionResponse<T>NoPaging: results required. */
export function collectionNoPaging<T extends z.ZodType>(item: T) {
  return z.strictObject({ results: z.array(item) });
}

/** CollectionResponse<T>ForwardPaging: results required, paging optional. */
export function collectionForwardPaging<T extends z.ZodType>(item: T) {
  return z.strictObject({ results: z.array(item), paging: ForwardPaging.optional() });
}

/**
 * The 429 body. Not in the OpenAPI specs (their `Error` requires `category`, which HubSpot's documented
 * 429 example lacks); written from HubSpot's usage-guidelines example and bodies seen from the real API:
 * status, message, errorType RATE_LIMIT, correlationId, policyName; groupName and requestId optional.
 */
export const RateLimitErrorBody = z.strictObject({
  status: z.literal("error"),
  message: z.string(),
  errorType: z.literal("RATE_LIMIT"),
  correlationId: z.uuid(),
  policyName: z.enum(["TEN_SECONDLY_ROLLING", "SECONDLY", "DAILY"]),
  groupName: z.string().optional(),
  requestId: z.string().optional(),
  category: z.string().optional(),
});
