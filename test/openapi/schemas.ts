/** Custom object schema shapes, written from PublicApiSpecs/CRM/Schemas/Rollouts/145900/v3/schemas.json. */
import { z } from "zod";
import { collectionNoPaging, dateTime, int32 } from "./common.ts";
import { Property } from "./properties.ts";

/** AssociationDefinition: id, fromObjectTypeId, toObjectTypeId required; name, createdAt, updatedAt optional. */
export const AssociationDefinition = z.strictObject({
  id: z.string(),
  fromObjectTypeId: z.string(),
  toObjectTypeId: z.string(),
  name: z.string().optional(),
  createdAt: dateTime.optional(),
  updatedAt: dateTime.optional(),
});

/** ObjectTypeDefinitionLabels: singular, plural, both optional. */
export const ObjectTypeDefinitionLabels = z.strictObject({ singular: z.string().optional(), plural: z.string().optional() });

/** ObjectSchema: id, name, labels, properties, associations, requiredProperties required. */
export const ObjectSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  labels: ObjectTypeDefinitionLabels,
  properties: z.array(Property),
  associations: z.array(AssociationDefinition),
  requiredProperties: z.array(z.string()),
  objectTypeId: z.string().optional(),
  fullyQualifiedName: z.string().optional(),
  description: z.string().optional(),
  primaryDisplayProperty: z.string().optional(),
  secondaryDisplayProperties: z.array(z.string()).optional(),
  searchableProperties: z.array(z.string()).optional(),
  allowsSensitiveProperties: z.boolean().optional(),
  archived: z.boolean().optional(),
  createdAt: dateTime.optional(),
  updatedAt: dateTime.optional(),
  createdByUserId: int32.optional(),
  updatedByUserId: int32.optional(),
});

/** ObjectTypeDefinition (PATCH answer): ObjectSchema without properties/associations, plus portalId. */
export const ObjectTypeDefinition = ObjectSchema.omit({ properties: true, associations: true }).extend({
  portalId: int32.optional(),
});

export const CollectionResponseObjectSchemaNoPaging = collectionNoPaging(ObjectSchema);
