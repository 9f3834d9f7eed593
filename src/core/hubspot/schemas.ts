import { z } from "zod";

/**
 * Shapes of the HubSpot responses hubsync consumes, checked after @hubspot/api-client has
 * deserialised them (its models turn date-times into Date objects; raw JSON has strings; both pass).
 * Only what we read is required; everything else passes through untouched.
 */
/** A date-time as ISO text; one that is no date (the SDK then hands an Invalid Date) is a zod issue, not a RangeError. */
function toIso(v: Date | string, ctx: z.RefinementCtx): string {
  const d = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(d.getTime())) {
    ctx.addIssue({ code: "custom", message: `not a date-time: ${JSON.stringify(v instanceof Date ? "Invalid Date" : v.slice(0, 40))}` });
    return z.NEVER;
  }
  return d.toISOString();
}
const isoDate = z.union([z.date({ error: "expected a date-time" }), z.string()]).transform((v, ctx) => toIso(v, ctx));
const optionalIsoDate = z
  .union([z.date(), z.string(), z.null()])
  .optional()
  .transform((v, ctx) => (v === null || v === undefined ? undefined : toIso(v, ctx)));

/** One value a property had (propertiesWithHistory); HubSpot lists them newest first. */
export const PropertyVersion = z.object({
  value: z.string().nullish().transform((v) => v ?? ""),
  timestamp: isoDate,
  sourceType: z.string().nullish(),
  sourceId: z.string().nullish(),
  updatedByUserId: z.number().int().nullish(),
});
export type PropertyVersion = z.infer<typeof PropertyVersion>;

/**
 * A record's property values: text, or null (undefined from the SDK's models) for no value. A record
 * carries hundreds of them (HubSpot's own contacts have about 400), and a backfill reads a page of
 * 100 records at a time, so the check is one loop over the values: a schema per value (z.record)
 * and the copy after it took about a tenth of the worker's time in a backfill (some 25 ms a page of
 * 380-property contacts, against 13 ms now). A value that is neither fails with its property's name
 * in the path.
 */
const PropertyValues = z.unknown().transform((p, ctx): Record<string, string | null> => {
  if (typeof p !== "object" || p === null || Array.isArray(p)) {
    ctx.addIssue({ code: "custom", message: `expected an object of property values, got ${Array.isArray(p) ? "array" : p === null ? "null" : typeof p}` });
    return z.NEVER;
  }
  const out: Record<string, string | null> = {};
  for (const k in p) {
    const v = (p as Record<string, unknown>)[k];
    if (typeof v === "string") out[k] = v;
    else if (v === null || v === undefined) out[k] = null;
    else {
      ctx.addIssue({ code: "custom", path: [k], message: `expected text or null, got ${typeof v}` });
      return z.NEVER;
    }
  }
  return out;
});

export const CrmRecord = z.object({
  id: z.string(),
  properties: PropertyValues,
  createdAt: isoDate,
  updatedAt: isoDate,
  archived: z.boolean().optional(),
  archivedAt: optionalIsoDate,
  propertiesWithHistory: z.record(z.string(), z.array(PropertyVersion)).optional(),
});
export type CrmRecord = z.infer<typeof CrmRecord>;

const NextPage = z
  .object({ next: z.object({ after: z.string() }).nullish() })
  .nullish()
  .transform((p) => p?.next?.after ?? null);

/**
 * Pages of records: their records are checked one by one as CrmRecord (parseEach, which gives the
 * worker's event loop back between slices of them), so the page's own schema takes them as they are.
 */
const Records = z.array(z.unknown());

export const ListPage = z.object({ results: Records, paging: NextPage });

/**
 * Associated ids a list page embeds per record and target type (`associations=` on GET): one entry per
 * (target, type) with the type as a name ("contact_to_company"), not an id; `more` when HubSpot cut
 * the list short (it embeds at most 100 and points to the rest with `paging.next`).
 */
export const EmbeddedAssociations = z.record(
  z.string(),
  z
    .object({
      results: z.array(z.object({ id: z.coerce.string(), type: z.string() })).default([]),
      paging: z.object({ next: z.object({ after: z.string().nullish() }).nullish() }).nullish(),
    })
    .transform((c) => ({ results: c.results, more: Boolean(c.paging?.next) })),
);
export type EmbeddedAssociations = z.infer<typeof EmbeddedAssociations>;
export const ListPageAssociations = z.object({ results: z.array(z.object({ id: z.string(), associations: EmbeddedAssociations.nullish() })) });

export type ListPage = {
  results: CrmRecord[];
  nextAfter: string | null;
  /** Record id → its embedded associations by target type, when the page was asked for them. */
  associations?: Map<string, EmbeddedAssociations>;
};

export const SearchPage = z.object({ total: z.number().int(), results: Records, paging: NextPage });
export type SearchPage = { total: number; results: CrmRecord[]; nextAfter: string | null };

export const BatchError = z
  .object({ category: z.string().optional(), message: z.string().optional(), context: z.record(z.string(), z.array(z.string())).optional() })
  .passthrough();
export const BatchReadResponse = z.object({
  status: z.string().optional(),
  results: Records,
  errors: z.array(BatchError).optional(),
});

/** One choice of an enumeration property: the stored value and the label HubSpot's UI shows. */
export const PropertyOption = z
  .object({
    value: z.string(),
    label: z.string(),
    description: z.string().nullish(),
    displayOrder: z.number().int().nullish(),
    hidden: z.boolean().optional(),
  })
  .passthrough();

export const PropertyDef = z
  .object({
    name: z.string(),
    label: z.string().optional(),
    type: z.string(),
    fieldType: z.string().optional(),
    groupName: z.string().nullish(),
    description: z.string().nullish(),
    displayOrder: z.number().int().nullish(),
    hasUniqueValue: z.boolean().optional(),
    hubspotDefined: z.boolean().nullish(),
    calculated: z.boolean().optional(),
    archived: z.boolean().optional(),
    hidden: z.boolean().optional(),
    options: z.array(PropertyOption).optional(),
    createdAt: optionalIsoDate.optional(),
    updatedAt: optionalIsoDate.optional(),
    modificationMetadata: z.object({ readOnlyValue: z.boolean().optional() }).passthrough().optional(),
  })
  .passthrough();
export type PropertyDef = z.infer<typeof PropertyDef>;

/** HubSpot computes the value itself (calculated) or allows no writes to it (readOnlyValue): a write of it is refused. */
export function isReadOnlyProperty(def: Pick<PropertyDef, "calculated" | "modificationMetadata">): boolean {
  return Boolean(def.calculated || def.modificationMetadata?.readOnlyValue);
}
export const PropertiesResponse = z.object({ results: z.array(PropertyDef) });

export const ObjectSchemaDef = z
  .object({
    id: z.string().optional(),
    objectTypeId: z.string(),
    name: z.string(),
    fullyQualifiedName: z.string().optional(),
    labels: z.object({ singular: z.string().optional(), plural: z.string().optional() }).passthrough().optional(),
    archived: z.boolean().optional(),
  })
  .passthrough();
export type ObjectSchemaDef = z.infer<typeof ObjectSchemaDef>;
export const SchemasResponse = z.object({ results: z.array(ObjectSchemaDef) });

export const Owner = z
  .object({
    id: z.string(),
    email: z.string().nullish(),
    firstName: z.string().nullish(),
    lastName: z.string().nullish(),
    userId: z.number().nullish(),
    userIdIncludingInactive: z.number().nullish(),
    type: z.string().nullish(),
    archived: z.boolean().optional(),
    createdAt: optionalIsoDate,
    updatedAt: optionalIsoDate,
    teams: z.array(z.object({ id: z.string(), name: z.string().optional(), primary: z.boolean().optional() }).passthrough()).nullish(),
  })
  .passthrough();
export type Owner = z.infer<typeof Owner>;
export const OwnersPage = z.object({ results: z.array(Owner), paging: NextPage });

export const PipelineStage = z
  .object({
    id: z.string(),
    label: z.string(),
    displayOrder: z.number(),
    metadata: z.record(z.string(), z.unknown()).nullish(),
    archived: z.boolean().optional(),
    createdAt: optionalIsoDate,
    updatedAt: optionalIsoDate,
  })
  .passthrough();
export const Pipeline = z
  .object({
    id: z.string(),
    label: z.string(),
    displayOrder: z.number(),
    archived: z.boolean().optional(),
    createdAt: optionalIsoDate,
    updatedAt: optionalIsoDate,
    stages: z.array(PipelineStage),
  })
  .passthrough();
export type Pipeline = z.infer<typeof Pipeline>;
export const PipelinesResponse = z.object({ results: z.array(Pipeline) });

/** One association type between two object types (label null for unlabeled types), on an edge or in the labels list. */
export const AssociationType = z.object({
  category: z.string().nullish(),
  typeId: z.coerce.number().int(),
  label: z.string().nullish(),
});
export type AssociationType = z.infer<typeof AssociationType>;
export const AssociationLabelsResponse = z.object({ results: z.array(AssociationType).default([]) });

/** The account's details (account-info); only what hubsync reads is required. */
export const AccountDetails = z
  .object({
    portalId: z.number().int(),
    timeZone: z.string(),
    accountType: z.string().optional(),
    dataHostingLocation: z.string().optional(),
    uiDomain: z.string().optional(),
  })
  .passthrough();
export type AccountDetails = z.infer<typeof AccountDetails>;
