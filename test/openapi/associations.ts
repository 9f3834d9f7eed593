/**
 * Associations v4 shapes, written from PublicApiSpecs/CRM/Associations/Rollouts/130902/v4/associations.json
 * (records) and PublicApiSpecs/CRM/Associations Schema/Rollouts/130902/v4/associationsSchema.json (labels).
 */
import { z } from "zod";
import { Paging, ForwardPaging, batchResponse, batchResponseWithErrors, collectionNoPaging, int32 } from "./common.ts";

const category = z.enum(["HUBSPOT_DEFINED", "INTEGRATOR_DEFINED", "USER_DEFINED", "WORK"]);

/**
 * Record ids in association bodies. DEVIATION: the spec types toObjectId (and the ids of
 * LabelsBetweenObjectPair) as strings, but HubSpot's documented examples send JSON numbers; both pass.
 */
const objectId = z.union([z.string().regex(/^\d+$/), z.int().nonnegative()]);

/** PublicObjectId {id} required. */
export const PublicObjectId = z.strictObject({ id: z.string() });

/** AssociationSpec: associationCategory, associationTypeId required. */
export const AssociationSpec = z.strictObject({ associationCategory: category, associationTypeId: int32 });

/**
 * AssociationSpecWithLabel: category, typeId required; label, fromObjectTypeId, toObjectTypeId optional.
 * DEVIATION: HubSpot sends `"label": null` for unlabeled types (documented example), so null is allowed.
 */
export const AssociationSpecWithLabel = z.strictObject({
  category,
  typeId: int32,
  label: z.string().nullable().optional(),
  fromObjectTypeId: z.string().optional(),
  toObjectTypeId: z.string().optional(),
});

/** MultiAssociatedObjectWithLabel: toObjectId, associationTypes required. */
export const MultiAssociatedObjectWithLabel = z.strictObject({
  toObjectId: objectId,
  associationTypes: z.array(AssociationSpecWithLabel),
});

/** PublicAssociationMultiWithLabel: from, to required; paging (next/prev) optional. */
export const PublicAssociationMultiWithLabel = z.strictObject({
  from: PublicObjectId,
  to: z.array(MultiAssociatedObjectWithLabel),
  paging: Paging.optional(),
});

export const BatchResponsePublicAssociationMultiWithLabel = batchResponse(PublicAssociationMultiWithLabel);
export const BatchResponsePublicAssociationMultiWithLabelWithErrors = batchResponseWithErrors(PublicAssociationMultiWithLabel);

/** LabelsBetweenObjectPair: all five fields required. */
export const LabelsBetweenObjectPair = z.strictObject({
  fromObjectTypeId: z.string(),
  fromObjectId: objectId,
  toObjectTypeId: z.string(),
  toObjectId: objectId,
  labels: z.array(z.string()),
});

export const BatchResponseLabelsBetweenObjectPair = batchResponse(LabelsBetweenObjectPair);
export const BatchResponseLabelsBetweenObjectPairWithErrors = batchResponseWithErrors(LabelsBetweenObjectPair);

/** PublicDefaultAssociation: from, to, associationSpec required. */
export const PublicDefaultAssociation = z.strictObject({
  from: PublicObjectId,
  to: PublicObjectId,
  associationSpec: AssociationSpec,
});

/** BatchResponsePublicDefaultAssociation: the spec puts the optional errors/numErrors on this one directly. */
export const BatchResponsePublicDefaultAssociation = batchResponseWithErrors(PublicDefaultAssociation);

/** CollectionResponseMultiAssociatedObjectWithLabelForwardPaging: results required, paging optional. */
export const CollectionResponseMultiAssociatedObjectWithLabelForwardPaging = z.strictObject({
  results: z.array(MultiAssociatedObjectWithLabel),
  paging: ForwardPaging.optional(),
});

/** Labels endpoints: CollectionResponseAssociationSpecWithLabelNoPaging. */
export const CollectionResponseAssociationSpecWithLabelNoPaging = collectionNoPaging(AssociationSpecWithLabel);

/** PublicAssociationDefinitionUserConfiguration: category, typeId required; label, userEnforcedMaxToObjectIds optional. */
export const PublicAssociationDefinitionUserConfiguration = z.strictObject({
  category,
  typeId: int32,
  label: z.string().nullable().optional(),
  userEnforcedMaxToObjectIds: int32.optional(),
});
export const CollectionResponsePublicAssociationDefinitionUserConfigurationNoPaging = collectionNoPaging(
  PublicAssociationDefinitionUserConfiguration,
);
