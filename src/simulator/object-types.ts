/**
 * The CRM object types a portal knows: HubSpot's standard ones (with their fixed type ids) and
 * custom objects defined through the schemas API. Pure data plus the lookup rules every path uses.
 */

export interface ObjectTypeDef {
  /** "0-1" for contacts, "2-<n>" for custom objects. */
  objectTypeId: string;
  /** Path name: "contacts", "line_items", or a custom object's name. */
  name: string;
  /** Singular name used by associations and table names: "contact", "line_item". */
  singular: string;
  /** Custom objects only: "p<portalId>_<name>". */
  fullyQualifiedName: string | null;
  custom: boolean;
  labels: { singular: string; plural: string };
  /** "lastmodifieddate" for contacts, "hs_lastmodifieddate" for everything else. */
  lastModifiedProperty: string;
  /** "createdate" for most types, "hs_createdate" for engagements. */
  createdProperty: string;
  /** Properties returned when a request names none. */
  defaultProperties: string[];
  /** What HubSpot's error messages call the type: "CONTACT", "LINE_ITEM". */
  errorName: string;
  requiredProperties: string[];
  primaryDisplayProperty: string | null;
  secondaryDisplayProperties: string[];
  searchableProperties: string[];
  createdAt: number;
  updatedAt: number;
  archived: boolean;
}

export const ENGAGEMENT_TYPES = ["calls", "emails", "meetings", "notes", "tasks", "postal_mail", "communications"] as const;

interface StandardSpec {
  id: string;
  name: string;
  singular: string;
  label: string;
  defaults: string[];
  required: string[];
  primary: string | null;
}

const ENGAGEMENT_DEFAULTS = ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"];

const STANDARD: StandardSpec[] = [
  { id: "0-1", name: "contacts", singular: "contact", label: "Contact",
    defaults: ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"], required: [], primary: "email" },
  { id: "0-2", name: "companies", singular: "company", label: "Company",
    defaults: ["name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"], required: [], primary: "name" },
  { id: "0-3", name: "deals", singular: "deal", label: "Deal",
    defaults: ["dealname", "amount", "closedate", "pipeline", "dealstage", "createdate", "hs_lastmodifieddate", "hs_object_id"],
    required: ["dealname", "dealstage", "pipeline"], primary: "dealname" },
  { id: "0-5", name: "tickets", singular: "ticket", label: "Ticket",
    defaults: ["content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_category", "hs_ticket_priority", "subject", "createdate", "hs_lastmodifieddate", "hs_object_id"],
    required: ["subject", "hs_pipeline_stage", "hs_pipeline"], primary: "subject" },
  { id: "0-7", name: "products", singular: "product", label: "Product",
    defaults: ["name", "description", "price", "createdate", "hs_lastmodifieddate", "hs_object_id"], required: [], primary: "name" },
  { id: "0-8", name: "line_items", singular: "line_item", label: "Line Item",
    defaults: ["quantity", "amount", "price", "createdate", "hs_lastmodifieddate", "hs_object_id"], required: [], primary: "name" },
  { id: "0-14", name: "quotes", singular: "quote", label: "Quote",
    defaults: ["hs_title", "hs_expiration_date", "createdate", "hs_lastmodifieddate", "hs_object_id"], required: [], primary: "hs_title" },
  { id: "0-18", name: "communications", singular: "communication", label: "Communication",
    defaults: ENGAGEMENT_DEFAULTS, required: ["hs_timestamp"], primary: null },
  { id: "0-27", name: "tasks", singular: "task", label: "Task", defaults: ENGAGEMENT_DEFAULTS, required: ["hs_timestamp"], primary: "hs_task_subject" },
  { id: "0-46", name: "notes", singular: "note", label: "Note", defaults: ENGAGEMENT_DEFAULTS, required: ["hs_timestamp"], primary: null },
  { id: "0-47", name: "meetings", singular: "meeting", label: "Meeting", defaults: ENGAGEMENT_DEFAULTS, required: ["hs_timestamp"], primary: "hs_meeting_title" },
  { id: "0-48", name: "calls", singular: "call", label: "Call", defaults: ENGAGEMENT_DEFAULTS, required: ["hs_timestamp"], primary: "hs_call_title" },
  { id: "0-49", name: "emails", singular: "email", label: "Email", defaults: ENGAGEMENT_DEFAULTS, required: ["hs_timestamp"], primary: "hs_email_subject" },
  { id: "0-116", name: "postal_mail", singular: "postal_mail", label: "Postal Mail", defaults: ENGAGEMENT_DEFAULTS, required: ["hs_timestamp"], primary: null },
];

function pluralLabel(label: string): string {
  if (label === "Postal Mail") return label;
  return label.endsWith("y") ? `${label.slice(0, -1)}ies` : `${label}s`;
}

export function standardObjectTypes(): ObjectTypeDef[] {
  return STANDARD.map((s) => {
    const engagement = (ENGAGEMENT_TYPES as readonly string[]).includes(s.name);
    return {
      objectTypeId: s.id,
      name: s.name,
      singular: s.singular,
      fullyQualifiedName: null,
      custom: false,
      labels: { singular: s.label, plural: pluralLabel(s.label) },
      lastModifiedProperty: s.name === "contacts" ? "lastmodifieddate" : "hs_lastmodifieddate",
      createdProperty: engagement ? "hs_createdate" : "createdate",
      defaultProperties: [...s.defaults],
      errorName: s.singular.toUpperCase(),
      requiredProperties: [...s.required],
      primaryDisplayProperty: s.primary,
      secondaryDisplayProperties: [],
      searchableProperties: s.primary ? [s.primary] : [],
      createdAt: 0,
      updatedAt: 0,
      archived: false,
    };
  });
}

/** A custom object's definition as schemas/create builds it. */
export function customObjectType(input: {
  objectTypeId: string;
  name: string;
  portalId: number;
  labels: { singular: string; plural: string };
  primaryDisplayProperty: string | null;
  secondaryDisplayProperties: string[];
  searchableProperties: string[];
  requiredProperties: string[];
  now: number;
}): ObjectTypeDef {
  return {
    objectTypeId: input.objectTypeId,
    name: input.name,
    singular: input.name,
    fullyQualifiedName: `p${input.portalId}_${input.name}`,
    custom: true,
    labels: input.labels,
    lastModifiedProperty: "hs_lastmodifieddate",
    createdProperty: "hs_createdate",
    defaultProperties: ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
    errorName: input.name.toUpperCase(),
    requiredProperties: input.requiredProperties,
    primaryDisplayProperty: input.primaryDisplayProperty,
    secondaryDisplayProperties: input.secondaryDisplayProperties,
    searchableProperties: input.searchableProperties,
    createdAt: input.now,
    updatedAt: input.now,
    archived: false,
  };
}
