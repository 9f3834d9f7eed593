/**
 * Properties v3 shapes, written from PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json
 * (Property, Option, PropertyModificationMetadata, PropertyGroup, CollectionResponse*NoPaging, BatchResponseProperty*).
 */
import { z } from "zod";
import { batchResponse, batchResponseWithErrors, collectionNoPaging, dateTime, int32 } from "./common.ts";

/** Option: label, value, hidden required; description, displayOrder optional. */
export const Option = z.strictObject({
  label: z.string(),
  value: z.string(),
  hidden: z.boolean(),
  description: z.string().optional(),
  displayOrder: int32.optional(),
});

/** PropertyModificationMetadata: archivable, readOnlyDefinition, readOnlyValue required; readOnlyOptions optional. */
export const PropertyModificationMetadata = z.strictObject({
  archivable: z.boolean(),
  readOnlyDefinition: z.boolean(),
  readOnlyValue: z.boolean(),
  readOnlyOptions: z.boolean().optional(),
});

/**
 * Property: name, label, type, fieldType, groupName, description, options required. `type` and
 * `fieldType` are free strings in the response schema (only the create input has enums), because real
 * portals return more (calculation_rollup, json…).
 */
export const Property = z.strictObject({
  name: z.string(),
  label: z.string(),
  type: z.string(),
  fieldType: z.string(),
  groupName: z.string(),
  description: z.string(),
  options: z.array(Option),
  displayOrder: int32.optional(),
  hidden: z.boolean().optional(),
  formField: z.boolean().optional(),
  hasUniqueValue: z.boolean().optional(),
  hubspotDefined: z.boolean().optional(),
  calculated: z.boolean().optional(),
  externalOptions: z.boolean().optional(),
  calculationFormula: z.string().optional(),
  referencedObjectType: z.string().optional(),
  currencyPropertyName: z.string().optional(),
  dataSensitivity: z.enum(["highly_sensitive", "non_sensitive", "sensitive"]).optional(),
  sensitiveDataCategories: z.array(z.string()).optional(),
  showCurrencySymbol: z.boolean().optional(),
  numberDisplayHint: z.enum(["currency", "duration", "formatted", "percentage", "probability", "unformatted"]).optional(),
  textDisplayHint: z
    .enum(["domain_name", "email", "ip_address", "multi_line", "phone_number", "physical_address", "postal_code", "unformatted_single_line"])
    .optional(),
  dateDisplayHint: z.enum(["absolute", "absolute_with_relative", "time_since", "time_until"]).optional(),
  createdAt: dateTime.optional(),
  updatedAt: dateTime.optional(),
  archived: z.boolean().optional(),
  archivedAt: dateTime.optional(),
  createdUserId: z.string().optional(),
  updatedUserId: z.string().optional(),
  modificationMetadata: PropertyModificationMetadata.optional(),
});

/** PropertyGroup: name, label, displayOrder, archived all required. */
export const PropertyGroup = z.strictObject({
  name: z.string(),
  label: z.string(),
  displayOrder: int32,
  archived: z.boolean(),
});

export const CollectionResponsePropertyNoPaging = collectionNoPaging(Property);
export const CollectionResponsePropertyGroupNoPaging = collectionNoPaging(PropertyGroup);
export const BatchResponseProperty = batchResponse(Property);
export const BatchResponsePropertyWithErrors = batchResponseWithErrors(Property);
