import type { ObjectTypeDef } from "./object-types.ts";
import type { PropertyDefinition, PropertyOption, PropertyType } from "./store.ts";

/**
 * The property definitions a fresh portal has for each standard type: HubSpot's default sets
 * (what a read returns when it names no properties) plus the common ones integrations touch, with realistic read-only and
 * calculated flags so validation behaves as HubSpot's does.
 */

interface Spec {
  name: string;
  label?: string;
  type: PropertyType;
  fieldType?: string;
  options?: string[];
  readOnly?: boolean;
  calculated?: boolean;
  unique?: boolean;
  group?: string;
}

const FIELD_TYPE: Record<PropertyType, string> = {
  string: "text",
  number: "number",
  date: "date",
  datetime: "date",
  enumeration: "select",
  bool: "booleancheckbox",
  phone_number: "phonenumber",
};

const s = (name: string, extra: Partial<Spec> = {}): Spec => ({ name, type: "string", ...extra });
const n = (name: string, extra: Partial<Spec> = {}): Spec => ({ name, type: "number", ...extra });
const dt = (name: string, extra: Partial<Spec> = {}): Spec => ({ name, type: "datetime", ...extra });
const d = (name: string, extra: Partial<Spec> = {}): Spec => ({ name, type: "date", ...extra });
const b = (name: string, extra: Partial<Spec> = {}): Spec => ({ name, type: "bool", ...extra });
const e = (name: string, options: string[], extra: Partial<Spec> = {}): Spec => ({ name, type: "enumeration", options, ...extra });
const ro = { readOnly: true };
const calc = { readOnly: true, calculated: true };

/** Filled from the portal's owners / pipelines at runtime (options kept in step by the store). */
export const DYNAMIC_OPTION_PROPERTIES = {
  owner: "hubspot_owner_id",
  dealPipeline: "pipeline",
  dealStage: "dealstage",
  ticketPipeline: "hs_pipeline",
  ticketStage: "hs_pipeline_stage",
} as const;

const COMMON: Spec[] = [
  s("hs_object_id", { label: "Record ID", type: "number", ...ro }),
  dt("hs_createdate", { label: "Object create date/time", ...ro }),
  dt("hs_lastmodifieddate", { label: "Object last modified date/time", ...ro }),
  e("hs_merged_object_ids", [], { label: "Merged record IDs", fieldType: "checkbox", ...calc }),
  e("hubspot_owner_id", [], { label: "Owner" }),
  dt("hs_created_by_user_id", { type: "number", ...ro }),
  dt("hubspot_owner_assigneddate", { label: "Owner assigned date", ...ro }),
];

const CRM_COMMON: Spec[] = [dt("createdate", { label: "Create Date", ...ro })];

const ENGAGEMENT: Spec[] = [
  dt("hs_timestamp", { label: "Activity date" }),
  n("hs_body_preview_is_truncated", { type: "bool", ...calc }),
  s("hs_attachment_ids", {}),
];

const LIFECYCLE = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other"];

const BY_TYPE: Record<string, Spec[]> = {
  contacts: [
    ...CRM_COMMON,
    dt("lastmodifieddate", { label: "Last Modified Date", ...ro }),
    s("email", { label: "Email" }),
    s("firstname", { label: "First Name" }),
    s("lastname", { label: "Last Name" }),
    { name: "phone", label: "Phone Number", type: "string", fieldType: "phonenumber" },
    { name: "mobilephone", label: "Mobile Phone Number", type: "string", fieldType: "phonenumber" },
    s("company", { label: "Company Name" }),
    s("jobtitle", { label: "Job Title" }),
    s("website"),
    s("address"), s("city"), s("state"), s("zip"), s("country"),
    e("lifecyclestage", LIFECYCLE, { label: "Lifecycle Stage", fieldType: "radio" }),
    e("hs_lead_status", ["NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING"], { label: "Lead Status" }),
    n("hs_analytics_num_visits", { label: "Number of Sessions", ...calc }),
    n("hs_analytics_num_page_views", { label: "Number of Pageviews", ...calc }),
    s("hs_analytics_source", { ...calc }),
    e("hs_calculated_merged_vids", [], { fieldType: "checkbox", ...calc }),
    n("num_associated_deals", { label: "Number of Associated Deals", ...calc }),
    n("associatedcompanyid", { label: "Primary Associated Company ID" }),
    dt("notes_last_updated", { label: "Last Activity Date", ...calc }),
    b("hs_email_optout", { label: "Unsubscribed from all email" }),
    d("date_of_birth", { label: "Date of birth" }),
    n("annualrevenue", { label: "Annual Revenue" }),
  ],
  companies: [
    ...CRM_COMMON,
    s("name", { label: "Company name" }),
    s("domain", { label: "Company Domain Name" }),
    s("website"), s("phone", { fieldType: "phonenumber" }), s("city"), s("state"), s("country"), s("description", { fieldType: "textarea" }),
    e("industry", ["ACCOUNTING", "COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE", "RETAIL", "INFORMATION_TECHNOLOGY_AND_SERVICES"], { label: "Industry" }),
    n("numberofemployees", { label: "Number of Employees" }),
    n("annualrevenue", { label: "Annual Revenue" }),
    e("lifecyclestage", LIFECYCLE, { label: "Lifecycle Stage", fieldType: "radio" }),
    e("type", ["PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER"], { label: "Type", fieldType: "radio" }),
    n("num_associated_contacts", { label: "Number of Associated Contacts", ...calc }),
    n("num_associated_deals", { label: "Number of Associated Deals", ...calc }),
    n("hs_analytics_num_visits", { ...calc }),
    b("is_public", { label: "Is Public" }),
  ],
  deals: [
    ...CRM_COMMON,
    s("dealname", { label: "Deal Name" }),
    n("amount", { label: "Amount" }),
    dt("closedate", { label: "Close Date" }),
    e("pipeline", [], { label: "Pipeline" }),
    e("dealstage", [], { label: "Deal Stage", fieldType: "radio" }),
    e("dealtype", ["newbusiness", "existingbusiness"], { label: "Deal Type", fieldType: "radio" }),
    s("description", { fieldType: "textarea" }),
    n("hs_deal_stage_probability", { ...calc }),
    n("hs_forecast_amount", { ...calc }),
    n("num_associated_contacts", { ...calc }),
    b("hs_is_closed", { ...calc }),
    e("hs_priority", ["low", "medium", "high"], { label: "Priority" }),
  ],
  tickets: [
    ...CRM_COMMON,
    s("subject", { label: "Ticket name" }),
    s("content", { label: "Ticket description", fieldType: "textarea" }),
    e("hs_pipeline", [], { label: "Pipeline" }),
    e("hs_pipeline_stage", [], { label: "Ticket status" }),
    e("hs_ticket_priority", ["LOW", "MEDIUM", "HIGH", "URGENT"], { label: "Priority" }),
    e("hs_ticket_category", ["PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY"], { label: "Category", fieldType: "checkbox" }),
    e("source_type", ["CHAT", "EMAIL", "FORM", "PHONE"], { label: "Source" }),
    dt("closed_date", { label: "Close date" }),
    n("time_to_close", { ...calc }),
  ],
  products: [
    ...CRM_COMMON,
    s("name", { label: "Name" }),
    n("price", { label: "Unit price" }),
    s("hs_sku", { label: "SKU" }),
    s("description", { label: "Description", fieldType: "textarea" }),
    n("hs_cost_of_goods_sold", { label: "Unit cost" }),
    s("hs_folder_id", { type: "number" }),
    e("hs_product_type", ["inventory", "non_inventory", "service"], { label: "Product type" }),
    e("recurringbillingfrequency", ["monthly", "quarterly", "annually"], {}),
  ],
  line_items: [
    ...CRM_COMMON,
    s("name", { label: "Name" }),
    n("quantity", { label: "Quantity" }),
    n("price", { label: "Unit price" }),
    n("amount", { label: "Net price", ...calc }),
    n("hs_product_id", { label: "Product ID" }),
    s("hs_sku", { label: "SKU" }),
    n("discount", { label: "Unit discount" }),
    n("hs_discount_percentage", {}),
    s("description", { fieldType: "textarea" }),
  ],
  quotes: [
    ...CRM_COMMON,
    s("hs_title", { label: "Quote name" }),
    d("hs_expiration_date", { label: "Expiration date" }),
    e("hs_status", ["DRAFT", "APPROVAL_NOT_NEEDED", "PENDING_APPROVAL", "APPROVED", "REJECTED"], { label: "Quote approval status" }),
    n("hs_quote_amount", { ...calc }),
    e("hs_language", ["en", "de", "fr", "es"], {}),
    s("hs_currency", {}),
  ],
  calls: [
    ...ENGAGEMENT,
    s("hs_call_title", { label: "Call Title" }),
    s("hs_call_body", { label: "Call notes", fieldType: "html" }),
    n("hs_call_duration", { label: "Call duration" }),
    e("hs_call_direction", ["INBOUND", "OUTBOUND"], {}),
    e("hs_call_status", ["BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED", "CONNECTING", "FAILED", "IN_PROGRESS", "NO_ANSWER", "QUEUED", "RINGING"], {}),
    s("hs_call_from_number"), s("hs_call_to_number"),
    e("hs_call_disposition", [], {}),
  ],
  emails: [
    ...ENGAGEMENT,
    s("hs_email_subject", { label: "Email subject" }),
    s("hs_email_text", { fieldType: "textarea" }),
    s("hs_email_html", { fieldType: "html" }),
    e("hs_email_direction", ["EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"], {}),
    e("hs_email_status", ["BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT"], {}),
    s("hs_email_headers"),
  ],
  meetings: [
    ...ENGAGEMENT,
    s("hs_meeting_title", { label: "Meeting name" }),
    s("hs_meeting_body", { fieldType: "html" }),
    s("hs_internal_meeting_notes", { fieldType: "html" }),
    s("hs_meeting_location"),
    dt("hs_meeting_start_time"), dt("hs_meeting_end_time"),
    e("hs_meeting_outcome", ["SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"], {}),
  ],
  notes: [...ENGAGEMENT, s("hs_note_body", { label: "Note body", fieldType: "html" })],
  tasks: [
    ...ENGAGEMENT,
    s("hs_task_subject", { label: "Task Title" }),
    s("hs_task_body", { fieldType: "html" }),
    e("hs_task_status", ["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"], {}),
    e("hs_task_priority", ["NONE", "LOW", "MEDIUM", "HIGH"], {}),
    e("hs_task_type", ["CALL", "EMAIL", "TODO"], {}),
    dt("hs_task_completion_date", { ...ro }),
  ],
  postal_mail: [...ENGAGEMENT, s("hs_postal_mail_body", { fieldType: "textarea" })],
  communications: [
    ...ENGAGEMENT,
    e("hs_communication_channel_type", ["SMS", "WHATS_APP", "LINKEDIN_MESSAGE"], {}),
    e("hs_communication_logged_from", ["CRM"], {}),
    s("hs_communication_body", { fieldType: "textarea" }),
  ],
};

function option(value: string, i: number): PropertyOption {
  return { label: labelOf(value), value, description: "", displayOrder: i, hidden: false };
}

function labelOf(name: string): string {
  return name.replace(/^hs_/, "").split("_").map((w) => (w ? w[0]!.toUpperCase() + w.slice(1).toLowerCase() : w)).join(" ");
}

export function buildProperty(spec: Spec, groupName: string, hubspotDefined: boolean, atIso: string): PropertyDefinition {
  return {
    name: spec.name,
    label: spec.label ?? labelOf(spec.name),
    type: spec.type,
    fieldType: spec.fieldType ?? FIELD_TYPE[spec.type],
    groupName: spec.group ?? groupName,
    description: "",
    options: (spec.options ?? []).map(option),
    displayOrder: -1,
    hasUniqueValue: spec.unique ?? false,
    hidden: false,
    formField: !spec.readOnly,
    hubspotDefined,
    calculated: spec.calculated ?? false,
    externalOptions: false,
    createdAt: atIso,
    updatedAt: atIso,
    archived: false,
    modificationMetadata: {
      archivable: !hubspotDefined,
      readOnlyDefinition: hubspotDefined,
      readOnlyValue: spec.readOnly ?? false,
    },
  };
}

/** Every built-in property definition of one object type. */
export function defaultPropertiesFor(type: ObjectTypeDef): PropertyDefinition[] {
  const group = `${type.singular}information`;
  const specs = type.custom ? [] : (BY_TYPE[type.name] ?? []);
  const seen = new Set<string>();
  const out: PropertyDefinition[] = [];
  const epoch = new Date(0).toISOString();
  for (const spec of [...COMMON, ...specs]) {
    if (seen.has(spec.name)) continue;
    seen.add(spec.name);
    out.push(buildProperty(spec, group, true, epoch));
  }
  return out;
}
