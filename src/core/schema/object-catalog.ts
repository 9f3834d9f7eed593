/**
 * HubSpot's standard CRM object types that hubsync.enable_sync accepts, with what discovery needs
 * before it has asked HubSpot anything. Custom objects come from the schemas API instead.
 */
export interface StandardObjectType {
  objectTypeId: string;
  singular: string;
  lastModifiedProperty: string;
  /** HubSpot's default property set: the typed columns when hubsync.objects.properties is null. */
  defaultProperties: string[];
}

const ENGAGEMENT_DEFAULTS = ["hs_createdate", "hs_lastmodifieddate", "hs_object_id", "hs_timestamp", "hubspot_owner_id"];

export const STANDARD_OBJECT_TYPES: Record<string, StandardObjectType> = {
  contacts: {
    objectTypeId: "0-1",
    singular: "contact",
    lastModifiedProperty: "lastmodifieddate",
    defaultProperties: ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"],
  },
  companies: {
    objectTypeId: "0-2",
    singular: "company",
    lastModifiedProperty: "hs_lastmodifieddate",
    defaultProperties: ["name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"],
  },
  deals: {
    objectTypeId: "0-3",
    singular: "deal",
    lastModifiedProperty: "hs_lastmodifieddate",
    defaultProperties: ["dealname", "amount", "closedate", "pipeline", "dealstage", "createdate", "hs_lastmodifieddate", "hs_object_id"],
  },
  tickets: {
    objectTypeId: "0-5",
    singular: "ticket",
    lastModifiedProperty: "hs_lastmodifieddate",
    defaultProperties: [
      "content",
      "hs_pipeline",
      "hs_pipeline_stage",
      "hs_ticket_category",
      "hs_ticket_priority",
      "subject",
      "createdate",
      "hs_lastmodifieddate",
      "hs_object_id",
    ],
  },
  products: {
    objectTypeId: "0-7",
    singular: "product",
    lastModifiedProperty: "hs_lastmodifieddate",
    defaultProperties: ["name", "description", "price", "createdate", "hs_lastmodifieddate", "hs_object_id"],
  },
  line_items: {
    objectTypeId: "0-8",
    singular: "line_item",
    lastModifiedProperty: "hs_lastmodifieddate",
    defaultProperties: ["quantity", "amount", "price", "createdate", "hs_lastmodifieddate", "hs_object_id"],
  },
  quotes: {
    objectTypeId: "0-14",
    singular: "quote",
    lastModifiedProperty: "hs_lastmodifieddate",
    defaultProperties: ["hs_title", "hs_expiration_date", "hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
  },
  communications: { objectTypeId: "0-18", singular: "communication", lastModifiedProperty: "hs_lastmodifieddate", defaultProperties: ENGAGEMENT_DEFAULTS },
  tasks: { objectTypeId: "0-27", singular: "task", lastModifiedProperty: "hs_lastmodifieddate", defaultProperties: ENGAGEMENT_DEFAULTS },
  notes: { objectTypeId: "0-46", singular: "note", lastModifiedProperty: "hs_lastmodifieddate", defaultProperties: ENGAGEMENT_DEFAULTS },
  meetings: { objectTypeId: "0-47", singular: "meeting", lastModifiedProperty: "hs_lastmodifieddate", defaultProperties: ENGAGEMENT_DEFAULTS },
  calls: { objectTypeId: "0-48", singular: "call", lastModifiedProperty: "hs_lastmodifieddate", defaultProperties: ENGAGEMENT_DEFAULTS },
  emails: { objectTypeId: "0-49", singular: "email", lastModifiedProperty: "hs_lastmodifieddate", defaultProperties: ENGAGEMENT_DEFAULTS },
  postal_mail: { objectTypeId: "0-116", singular: "postal_mail", lastModifiedProperty: "hs_lastmodifieddate", defaultProperties: ENGAGEMENT_DEFAULTS },
};

/** Custom objects: HubSpot's own columns plus what the schema marks as display/required. */
export const CUSTOM_OBJECT_BASE_PROPERTIES = ["hs_object_id", "hs_createdate", "hs_lastmodifieddate"];

/** Always asked for in batch reads, whether or not the properties API lists it: merges are found through it. */
export const MERGED_IDS_PROPERTY = "hs_merged_object_ids";

/** Table names in schema hubspot that no CRM object may take. */
export const RESERVED_TABLE_NAMES = new Set(["owners", "pipelines", "pipeline_stages", "properties", "property_options"]);
