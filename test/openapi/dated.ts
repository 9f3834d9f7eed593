/**
 * Where the date-versioned specs (PublicApiSpecs/CRM/…/Rollouts/…/2026-03 and …/2026-09) declare
 * other shapes than v3/v4; everything else is the same schema as the legacy files.
 */
import { z } from "zod";
import { StandardError, batchResponse, int32 } from "./common.ts";
import { Pipeline as LegacyPipeline, PipelineStage as LegacyPipelineStage } from "./pipelines.ts";
import { ObjectSchema as LegacyObjectSchema } from "./schemas.ts";
import { SimplePublicObject, SimplePublicUpsertObject } from "./objects.ts";
import { PublicAssociationMultiWithLabel, LabelsBetweenObjectPair } from "./associations.ts";

/** Association archives (every dated version): 200 with BatchResponse / BatchResponseVoid, results empty. */
export const BatchResponseVoid = batchResponse(z.never()).extend({
  numErrors: int32.optional(),
  errors: z.array(StandardError).optional(),
});

/** 2026-09 has no …WithErrors schemas: numErrors and errors[] are optional fields of the plain batch response. */
function batchResponse2026_09<T extends z.ZodType>(item: T) {
  return batchResponse(item).extend({ numErrors: int32.optional(), errors: z.array(StandardError).optional() });
}

/** 2026-09 SimplePublicObject: no `warnings` (PublicObjectWarning removed). */
export const SimplePublicObject2026_09 = SimplePublicObject.omit({ warnings: true });
export const BatchResponseSimplePublicObject2026_09 = batchResponse2026_09(SimplePublicObject2026_09);
export const BatchResponseSimplePublicUpsertObject2026_09 = batchResponse2026_09(SimplePublicUpsertObject.omit({ warnings: true }));
export const BatchResponsePublicAssociationMultiWithLabel2026_09 = batchResponse2026_09(PublicAssociationMultiWithLabel);
export const BatchResponseLabelsBetweenObjectPair2026_09 = batchResponse2026_09(LabelsBetweenObjectPair);

/** Dated PipelineStage: writePermissions becomes required. */
export const PipelineStage = LegacyPipelineStage.required({ writePermissions: true });
export const Pipeline = LegacyPipeline.extend({ stages: z.array(PipelineStage) });
export const CollectionResponsePipelineNoPaging = z.strictObject({ results: z.array(Pipeline) });

/** Dated ObjectSchema: these fields, optional in v3, are required. */
export const ObjectSchema = LegacyObjectSchema.required({
  allowsSensitiveProperties: true,
  archived: true,
  fullyQualifiedName: true,
  objectTypeId: true,
  searchableProperties: true,
  secondaryDisplayProperties: true,
});
export const CollectionResponseObjectSchemaNoPaging = z.strictObject({ results: z.array(ObjectSchema) });
