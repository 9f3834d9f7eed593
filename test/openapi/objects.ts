/**
 * CRM objects v3 shapes, written from PublicApiSpecs/CRM/Objects/Rollouts/424/v3/objects.json
 * (components SimplePublicObject*, BatchResponse*, CollectionResponse*) and the merge input of
 * PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json.
 */
import { z } from "zod";
import {
  Paging,
  batchResponse,
  batchResponseWithErrors,
  collectionForwardPaging,
  dateTime,
  int32,
  stringMap,
} from "./common.ts";

/**
 * DEVIATION: the spec types property values as strings; HubSpot returns null for requested
 * properties without a value, so null is accepted.
 */
const propertyValues = z.record(z.string(), z.string().nullable());

/** ValueWithTimestamp: value, timestamp, sourceType required. */
export const ValueWithTimestamp = z.strictObject({
  value: z.string(),
  timestamp: dateTime,
  sourceType: z.string(),
  sourceId: z.string().optional(),
  sourceLabel: z.string().optional(),
  updatedByUserId: int32.optional(),
});

export const PublicObjectWarning = z.strictObject({
  category: z.string(),
  message: z.string(),
  context: stringMap,
});

/** SimplePublicObject: id, properties, createdAt, updatedAt, archived required. */
export const SimplePublicObject = z.strictObject({
  id: z.string(),
  properties: propertyValues,
  createdAt: dateTime,
  updatedAt: dateTime,
  archived: z.boolean(),
  archivedAt: dateTime.optional(),
  propertiesWithHistory: z.record(z.string(), z.array(ValueWithTimestamp)).optional(),
  objectWriteTraceId: z.string().optional(),
  url: z.string().optional(),
  warnings: z.array(PublicObjectWarning).optional(),
});

/** AssociatedId {id, type} and CollectionResponseAssociatedId {results, paging?}. */
export const AssociatedId = z.strictObject({ id: z.string(), type: z.string() });
export const CollectionResponseAssociatedId = z.strictObject({ results: z.array(AssociatedId), paging: Paging.optional() });

/** SimplePublicObjectWithAssociations: SimplePublicObject plus optional associations map. */
export const SimplePublicObjectWithAssociations = SimplePublicObject.extend({
  associations: z.record(z.string(), CollectionResponseAssociatedId).optional(),
});

/** SimplePublicUpsertObject: SimplePublicObject plus required `new`. */
export const SimplePublicUpsertObject = SimplePublicObject.extend({ new: z.boolean() });

export const CollectionResponseSimplePublicObjectWithAssociationsForwardPaging = collectionForwardPaging(
  SimplePublicObjectWithAssociations,
);

/** CollectionResponseWithTotalSimplePublicObject: total and results required, paging (next/prev) optional. */
export const CollectionResponseWithTotalSimplePublicObject = z.strictObject({
  total: int32,
  results: z.array(SimplePublicObject),
  paging: Paging.optional(),
});

export const BatchResponseSimplePublicObject = batchResponse(SimplePublicObject);
export const BatchResponseSimplePublicObjectWithErrors = batchResponseWithErrors(SimplePublicObject);
export const BatchResponseSimplePublicUpsertObject = batchResponse(SimplePublicUpsertObject);
export const BatchResponseSimplePublicUpsertObjectWithErrors = batchResponseWithErrors(SimplePublicUpsertObject);
