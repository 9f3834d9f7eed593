/**
 * seedPortal: fills a Store with a realistic, deterministic HubSpot portal. Everything random comes
 * from one seeded Prng (forked per area so areas don't shift each other) and timestamps are placed
 * before a fixed anchor, so the same {size, seed} gives the same portal on every run and machine.
 *
 * Records are written straight into the store (no HTTP, no validation) so 100k+ records take seconds.
 */
import { associationsOf, type AssociationStore } from "./associations.ts";
import type { ObjectTypeDef } from "./object-types.ts";
import { Prng } from "./prng.ts";
import {
  CAR_MAKES,
  CITIES,
  CUSTOM_PROPERTIES,
  FIRST_NAMES,
  JOB_TITLES,
  LAST_NAMES,
  PRODUCT_NAMES,
  companyName,
  customValue,
  domainOf,
  emailOf,
  isoDate,
  isoDateTime,
  phone,
  sentence,
} from "./seed-data.ts";
import type { Owner, Pipeline, StoredRecord, Store } from "./store.ts";

export interface SeedOptions {
  /** Approximate number of CRM records (all object types together). */
  size: number;
  seed: number;
  /**
   * Exact record counts for some types instead of their share of `size` (the bench's million
   * contacts: the other types stay at their share of a small portal).
   */
  counts?: Partial<Record<string, number>>;
  /** Latest timestamp the portal's data may carry (ms). Fixed by default so seeding is deterministic. */
  now?: number;
}

export interface SeedSummary {
  /** Records created per object type name (archived and merged-away ones included). */
  created: Record<string, number>;
  archived: Record<string, number>;
  merged: Record<string, number>;
  associations: number;
  owners: number;
  customObject: string;
  /** The USER_DEFINED contact→company label the seed creates. */
  billingContactTypeId: number;
  ms: number;
}

/** 2025-06-01T00:00:00Z: a fixed "now" for seeded data, safely in the past. */
export const SEED_NOW = Date.UTC(2025, 5, 1);
const DAY = 86_400_000;
const HISTORY_MS = 3 * 365 * DAY;

/** Share of `size` per object type (products are a small fixed catalogue). */
const MIX: Array<[string, number]> = [
  ["companies", 0.08],
  ["contacts", 0.28],
  ["deals", 0.08],
  ["tickets", 0.04],
  ["line_items", 0.11],
  ["cars", 0.02],
  ["calls", 0.08],
  ["emails", 0.1],
  ["meetings", 0.04],
  ["notes", 0.1],
  ["tasks", 0.05],
];

export const CUSTOM_OBJECT_NAME = "cars";

interface Ctx {
  store: Store;
  assoc: AssociationStore;
  rng: Prng;
  now: number;
  owners: Owner[];
  summary: SeedSummary;
  /** A few instants when "a workflow" touched many records: shared last-modified milliseconds. */
  bulkTimes: number[];
}

export function seedPortal(store: Store, options: SeedOptions): SeedSummary {
  const started = performance.now();
  const root = new Prng(options.seed);
  const now = options.now ?? SEED_NOW;
  const assoc = associationsOf(store);
  const summary: SeedSummary = {
    created: {},
    archived: {},
    merged: {},
    associations: 0,
    owners: 0,
    customObject: CUSTOM_OBJECT_NAME,
    billingContactTypeId: 0,
    ms: 0,
  };
  const bulkRng = root.fork(1);
  const bulkTimes = Array.from({ length: 12 }, () => now - bulkRng.int(1, 300) * DAY + bulkRng.int(0, DAY - 1)).sort((a, b) => a - b);
  const ctx: Ctx = { store, assoc, rng: root.fork(2), now, owners: [], summary, bulkTimes };

  const counts = Object.fromEntries(MIX.map(([t, share]) => [t, Math.max(1, Math.round(options.size * share))]));
  counts.products = Math.min(200, Math.max(3, Math.round(options.size * 0.005)));
  for (const [t, n] of Object.entries(options.counts ?? {})) if (n !== undefined) counts[t] = n;

  ctx.owners = seedOwners(store, root.fork(3), now);
  summary.owners = ctx.owners.length;
  const dealPipelines = seedPipelines(store);
  defineProperties(store);
  const cars = defineCustomObject(store);
  const billing = assoc.types
    .list(typeId(store, "contacts"), typeId(store, "companies"))
    .find((d) => d.label === "Billing contact") ??
    assoc.types.createLabel(typeId(store, "contacts"), typeId(store, "companies"), { label: "Billing contact", name: "billing_contact" })[0]!;
  summary.billingContactTypeId = billing.typeId;

  store.beginBulkLoad();
  const companies = seedCompanies({ ...ctx, rng: root.fork(10) }, counts.companies!);
  const contacts = seedContacts({ ...ctx, rng: root.fork(11) }, counts.contacts!, companies, billing.typeId);
  const products = seedProducts({ ...ctx, rng: root.fork(12) }, counts.products);
  const deals = seedDeals({ ...ctx, rng: root.fork(13) }, counts.deals!, companies, contacts, dealPipelines);
  seedLineItems({ ...ctx, rng: root.fork(14) }, counts.line_items!, deals, products);
  const tickets = seedTickets({ ...ctx, rng: root.fork(15) }, counts.tickets!, companies, contacts);
  seedCars({ ...ctx, rng: root.fork(16) }, cars, counts.cars!, contacts);
  seedEngagements({ ...ctx, rng: root.fork(17) }, counts, companies, contacts, deals, tickets);
  archiveSome({ ...ctx, rng: root.fork(18) }, { companies, contacts, deals, tickets });
  mergeSome({ ...ctx, rng: root.fork(19) }, companies, contacts);
  store.endBulkLoad();
  fillAssociationCounts(ctx);

  summary.associations = assoc.size() / 2;
  summary.ms = Math.round(performance.now() - started);
  return summary;
}

function typeId(store: Store, name: string): string {
  return typeOf(store, name).objectTypeId;
}

function typeOf(store: Store, name: string): ObjectTypeDef {
  const t = store.resolveType(name);
  if (!t) throw new Error(`seed: unknown object type ${name}`);
  return t;
}

// ---- timestamps --------------------------------------------------------------------------

/**
 * Creation times for `n` records of one type, ascending (ids follow creation order as in HubSpot),
 * spread over the last three years; a few share a millisecond with their neighbour (imports).
 */
function creationTimes(rng: Prng, n: number, now: number): number[] {
  const start = now - HISTORY_MS;
  const step = (HISTORY_MS - DAY) / n;
  const out: number[] = new Array(n);
  let prev = start;
  for (let i = 0; i < n; i++) {
    let t = Math.floor(start + i * step + rng.next() * step);
    if (i > 0 && rng.chance(0.03)) t = prev;
    if (t < prev) t = prev;
    out[i] = prev = t;
  }
  return out;
}

/** Last modification: most records were touched again later; some at a shared "workflow" instant. */
function modifiedTime(ctx: Ctx, createdAt: number): number {
  const { rng, now } = ctx;
  if (rng.chance(0.06)) {
    const bulk = rng.pick(ctx.bulkTimes);
    if (bulk > createdAt) return bulk;
  }
  if (rng.chance(0.25)) return createdAt;
  const r = rng.next();
  return createdAt + Math.floor((now - createdAt) * (1 - r * r));
}

/** Creates a record with its creation and last-modified times (the store stamps both properties). */
function put(ctx: Ctx, type: ObjectTypeDef, properties: Record<string, string>, createdAt: number): StoredRecord {
  const updatedAt = modifiedTime(ctx, createdAt);
  const record = ctx.store.createRecord(type, properties, { at: updatedAt });
  // createdAt is in no index, so it can be set after the fact; last-modified went in through `at`.
  record.createdAt = createdAt;
  record.properties[type.createdProperty] = isoDateTime(createdAt);
  ctx.summary.created[type.name] = (ctx.summary.created[type.name] ?? 0) + 1;
  return record;
}

function ownerId(ctx: Ctx): string | undefined {
  if (ctx.rng.chance(0.1)) return undefined;
  return ctx.rng.pick(ctx.owners).id;
}

function withCustom(ctx: Ctx, props: Record<string, string>): Record<string, string> {
  for (const spec of CUSTOM_PROPERTIES) {
    const v = customValue(ctx.rng, spec, ctx.now);
    if (v !== undefined) props[spec.name] = v;
  }
  return props;
}

function numId(r: StoredRecord): number {
  return r.idNum;
}

// ---- portal set-up -------------------------------------------------------------------------

function seedOwners(store: Store, rng: Prng, now: number): Owner[] {
  const existing = store.ownerList();
  if (existing.length > 0) return existing.filter((o) => !o.archived);
  const teams = [
    { id: "4100001", name: "Sales EMEA" },
    { id: "4100002", name: "Sales Americas" },
    { id: "4100003", name: "Customer Success" },
  ];
  const owners: Owner[] = [];
  for (let i = 0; i < 10; i++) {
    const first = FIRST_NAMES[(i * 7) % FIRST_NAMES.length]!;
    const last = LAST_NAMES[(i * 5) % LAST_NAMES.length]!;
    const team = teams[i % teams.length]!;
    const createdAt = now - HISTORY_MS - rng.int(1, 200) * DAY;
    owners.push(
      store.addOwner({
        email: emailOf(first, last, i, "sim-portal.example.com"),
        firstName: first,
        lastName: last,
        teams: [{ ...team, primary: true }, ...(i % 4 === 0 ? [{ ...teams[(i + 1) % teams.length]!, primary: false }] : [])],
        createdAt,
        updatedAt: createdAt + rng.int(0, 300) * DAY,
        // One deactivated user: HubSpot then sends userId null and the id in userIdIncludingInactive.
        archived: i === 9,
      }),
    );
  }
  return owners.filter((o) => !o.archived);
}

/** Adds a second deal pipeline ("Partner deals", numeric ids like HubSpot's custom pipelines). */
function seedPipelines(store: Store): Pipeline[] {
  const deals = typeOf(store, "deals");
  const current = store.pipelinesOf(deals);
  if (current.some((p) => p.id === "31826394")) return current;
  const at = SEED_NOW - HISTORY_MS;
  const stages: Array<[string, string, string]> = [
    ["31826395", "Partner sourced", "0.1"],
    ["31826396", "Joint discovery", "0.3"],
    ["31826397", "Proposal", "0.6"],
    ["31826398", "Won", "1.0"],
    ["31826399", "Lost", "0.0"],
  ];
  const partner: Pipeline = {
    id: "31826394",
    label: "Partner deals",
    displayOrder: 1,
    createdAt: at,
    updatedAt: at,
    archived: false,
    stages: stages.map(([id, label, probability], i) => ({
      id,
      label,
      displayOrder: i,
      metadata: { isClosed: String(i >= 3), probability },
      createdAt: at,
      updatedAt: at,
      archived: false,
    })),
  };
  store.setPipelines("deals", [...current, partner]);
  return store.pipelinesOf(deals);
}

/** One custom property of every type/fieldType on contacts, companies and deals. */
function defineProperties(store: Store): void {
  for (const name of ["contacts", "companies", "deals"]) {
    const type = typeOf(store, name);
    for (const spec of CUSTOM_PROPERTIES) {
      if (store.property(type, spec.name)) continue;
      store.createProperty(type, {
        name: spec.name,
        label: spec.label,
        type: spec.type,
        fieldType: spec.fieldType,
        groupName: `${type.singular}information`,
        options: (spec.options ?? []).map((v, i) => ({ label: v[0]!.toUpperCase() + v.slice(1), value: v, description: "", displayOrder: i, hidden: false })),
      });
    }
  }
}

/** A custom object with a unique-value property, as integrations use for idempotent upserts. */
function defineCustomObject(store: Store): ObjectTypeDef {
  const existing = store.resolveType(CUSTOM_OBJECT_NAME);
  if (existing) return existing;
  const makes = Object.keys(CAR_MAKES);
  return store.createObjectType({
    name: CUSTOM_OBJECT_NAME,
    labels: { singular: "Car", plural: "Cars" },
    primaryDisplayProperty: "vin",
    secondaryDisplayProperties: ["make", "model"],
    searchableProperties: ["vin", "model"],
    requiredProperties: ["vin"],
    properties: [
      { name: "vin", label: "VIN", type: "string", fieldType: "text", hasUniqueValue: true },
      {
        name: "make",
        label: "Make",
        type: "enumeration",
        fieldType: "select",
        options: makes.map((m, i) => ({ label: m[0]!.toUpperCase() + m.slice(1), value: m, description: "", displayOrder: i, hidden: false })),
      },
      { name: "model", label: "Model", type: "string", fieldType: "text" },
      { name: "year", label: "Year", type: "number", fieldType: "number" },
      { name: "first_registered", label: "First registered", type: "date", fieldType: "date" },
    ],
  });
}

// ---- records -----------------------------------------------------------------------------

function seedCompanies(ctx: Ctx, n: number): StoredRecord[] {
  const type = typeOf(ctx.store, "companies");
  const company = type.objectTypeId;
  const { rng } = ctx;
  const times = creationTimes(rng, n, ctx.now);
  const out: StoredRecord[] = [];
  for (let i = 0; i < n; i++) {
    const name = companyName(rng, i);
    const [city, country] = rng.pick(CITIES);
    const props: Record<string, string> = {
      name,
      domain: domainOf(name, i),
      city,
      country,
      phone: phone(rng),
      industry: rng.pick(["ACCOUNTING", "COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE", "RETAIL", "INFORMATION_TECHNOLOGY_AND_SERVICES"]),
      numberofemployees: String(rng.pickWeighted([[rng.int(1, 50), 5], [rng.int(51, 500), 3], [rng.int(501, 20000), 1]])),
      annualrevenue: String(rng.int(10, 50000) * 1000),
      lifecyclestage: rng.pick(["lead", "opportunity", "customer", "customer", "evangelist"]),
      type: rng.pick(["PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER"]),
    };
    const owner = ownerId(ctx);
    if (owner) props.hubspot_owner_id = owner;
    if (rng.chance(0.5)) props.description = sentence(rng, 10);
    const record = put(ctx, type, withCustom(ctx, props), times[i]!);
    // ~10% are subsidiaries of an older company: parent→child is type 13 ("Child Company").
    if (out.length > 3 && rng.chance(0.1)) ctx.assoc.set(company, numId(rng.pick(out)), company, record.idNum, [13]);
    out.push(record);
  }
  return out;
}

function seedContacts(ctx: Ctx, n: number, companies: StoredRecord[], billingTypeId: number): StoredRecord[] {
  const type = typeOf(ctx.store, "contacts");
  const contact = type.objectTypeId;
  const company = typeId(ctx.store, "companies");
  const { rng } = ctx;
  const times = creationTimes(rng, n, ctx.now);
  const out: StoredRecord[] = [];
  for (let i = 0; i < n; i++) {
    // Contacts cluster on companies (~3.5 each); a few have no company at all.
    const employer = rng.chance(0.05) ? undefined : companies[Math.floor((i / n) * companies.length + rng.next()) % companies.length]!;
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    const domain = employer?.properties.domain ?? rng.pick(["gmail.example", "outlook.example", "proton.example"]);
    const props: Record<string, string> = {
      firstname: first,
      lastname: last,
      email: emailOf(first, last, i, domain),
      jobtitle: rng.pick(JOB_TITLES),
      lifecyclestage: rng.pick(["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"]),
      hs_lead_status: rng.pick(["NEW", "OPEN", "IN_PROGRESS", "CONNECTED", "UNQUALIFIED"]),
      hs_email_optout: rng.chance(0.1) ? "true" : "false",
    };
    if (rng.chance(0.7)) props.phone = phone(rng);
    if (rng.chance(0.3)) props.date_of_birth = isoDate(ctx.now - rng.int(20 * 365, 65 * 365) * DAY);
    if (employer) {
      props.company = employer.properties.name!;
      props.associatedcompanyid = employer.id;
      props.city = employer.properties.city!;
      props.country = employer.properties.country!;
    }
    const owner = ownerId(ctx);
    if (owner) props.hubspot_owner_id = owner;
    const record = put(ctx, type, withCustom(ctx, props), times[i]!);
    if (employer) {
      // Primary company (1) plus the implied unlabeled type; some are also the billing contact.
      ctx.assoc.set(contact, record.idNum, company, employer.idNum, rng.chance(0.15) ? [1, billingTypeId] : [1]);
      if (rng.chance(0.1)) ctx.assoc.add(contact, record.idNum, company, numId(rng.pick(companies)));
    }
    out.push(record);
  }
  return out;
}

function seedProducts(ctx: Ctx, n: number): StoredRecord[] {
  const type = typeOf(ctx.store, "products");
  const { rng } = ctx;
  const times = creationTimes(rng, n, ctx.now - 400 * DAY);
  const out: StoredRecord[] = [];
  for (let i = 0; i < n; i++) {
    const name = i < PRODUCT_NAMES.length ? PRODUCT_NAMES[i]! : `${rng.pick(PRODUCT_NAMES)} v${i}`;
    out.push(
      put(ctx, type, {
        name,
        price: String(rng.int(1, 500) * 10),
        hs_sku: `SKU-${String(1000 + i)}`,
        description: sentence(rng, 8),
        hs_product_type: rng.pick(["inventory", "non_inventory", "service"]),
      }, times[i]!),
    );
  }
  return out;
}

function seedDeals(ctx: Ctx, n: number, companies: StoredRecord[], contacts: StoredRecord[], pipelines: Pipeline[]): StoredRecord[] {
  const type = typeOf(ctx.store, "deals");
  const deal = type.objectTypeId;
  const company = typeId(ctx.store, "companies");
  const contact = typeId(ctx.store, "contacts");
  const { rng } = ctx;
  const times = creationTimes(rng, n, ctx.now);
  // Contacts by primary company id, to pick deal contacts from the deal's company.
  const byCompany = new Map<string, StoredRecord[]>();
  for (const c of contacts) {
    const k = c.properties.associatedcompanyid;
    if (k) (byCompany.get(k) ?? byCompany.set(k, []).get(k)!).push(c);
  }
  const out: StoredRecord[] = [];
  for (let i = 0; i < n; i++) {
    const pipeline = rng.chance(0.8) ? pipelines[0]! : (pipelines[1] ?? pipelines[0]!);
    const stage = rng.pick(pipeline.stages);
    const buyer = rng.pick(companies);
    const props: Record<string, string> = {
      dealname: `${buyer.properties.name} – ${rng.pick(PRODUCT_NAMES)}`,
      amount: String(rng.int(5, 2000) * 100),
      closedate: isoDateTime(times[i]! + rng.int(10, 180) * DAY),
      pipeline: pipeline.id,
      dealstage: stage.id,
      dealtype: rng.pick(["newbusiness", "existingbusiness"]),
      hs_priority: rng.pick(["low", "medium", "high"]),
    };
    const owner = ownerId(ctx);
    if (owner) props.hubspot_owner_id = owner;
    const record = put(ctx, type, withCustom(ctx, props), times[i]!);
    if (rng.chance(0.9)) ctx.assoc.set(deal, record.idNum, company, buyer.idNum, [5]);
    const people = byCompany.get(buyer.id) ?? [];
    for (const p of rng.sample(people, rng.int(1, 3))) ctx.assoc.add(deal, record.idNum, contact, p.idNum);
    out.push(record);
  }
  return out;
}

function seedLineItems(ctx: Ctx, n: number, deals: StoredRecord[], products: StoredRecord[]): void {
  const type = typeOf(ctx.store, "line_items");
  const deal = typeId(ctx.store, "deals");
  const lineItem = type.objectTypeId;
  const { rng } = ctx;
  for (let i = 0; i < n; i++) {
    // Line items are created with their deal: spread them over the deals in order.
    const parent = deals[Math.min(deals.length - 1, Math.floor((i / n) * deals.length))]!;
    const product = rng.pick(products);
    const quantity = rng.int(1, 20);
    const price = Number(product.properties.price);
    const record = put(ctx, type, {
      name: product.properties.name!,
      hs_product_id: product.id,
      hs_sku: product.properties.hs_sku!,
      quantity: String(quantity),
      price: String(price),
      amount: String(quantity * price),
    }, parent.createdAt + rng.int(0, 3_600_000));
    ctx.assoc.add(deal, parent.idNum, lineItem, record.idNum);
  }
}

function seedTickets(ctx: Ctx, n: number, companies: StoredRecord[], contacts: StoredRecord[]): StoredRecord[] {
  const type = typeOf(ctx.store, "tickets");
  const ticket = type.objectTypeId;
  const contact = typeId(ctx.store, "contacts");
  const company = typeId(ctx.store, "companies");
  const pipeline = ctx.store.pipelinesOf(type)[0]!;
  const { rng } = ctx;
  const times = creationTimes(rng, n, ctx.now);
  const out: StoredRecord[] = [];
  for (let i = 0; i < n; i++) {
    const requester = rng.pick(contacts);
    const stage = rng.pick(pipeline.stages);
    const props: Record<string, string> = {
      subject: sentence(rng, 4).slice(0, -1),
      content: sentence(rng, 14),
      hs_pipeline: pipeline.id,
      hs_pipeline_stage: stage.id,
      hs_ticket_priority: rng.pick(["LOW", "MEDIUM", "HIGH", "URGENT"]),
      hs_ticket_category: rng.sample(["PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY"], rng.int(1, 2)).join(";"),
      source_type: rng.pick(["CHAT", "EMAIL", "FORM", "PHONE"]),
    };
    if (stage.metadata.ticketState === "CLOSED") props.closed_date = isoDateTime(times[i]! + rng.int(1, 30) * DAY);
    const owner = ownerId(ctx);
    if (owner) props.hubspot_owner_id = owner;
    const record = put(ctx, type, props, times[i]!);
    ctx.assoc.add(ticket, record.idNum, contact, requester.idNum);
    const employer = requester.properties.associatedcompanyid;
    if (employer) ctx.assoc.set(ticket, record.idNum, company, Number(employer), [26]);
    else if (rng.chance(0.3)) ctx.assoc.add(ticket, record.idNum, company, numId(rng.pick(companies)));
    out.push(record);
  }
  return out;
}

function seedCars(ctx: Ctx, type: ObjectTypeDef, n: number, contacts: StoredRecord[]): void {
  const contact = typeId(ctx.store, "contacts");
  const { rng } = ctx;
  const times = creationTimes(rng, n, ctx.now);
  const makes = Object.keys(CAR_MAKES);
  for (let i = 0; i < n; i++) {
    const make = rng.pick(makes);
    const record = put(ctx, type, {
      vin: `WSIM${String(ctx.rng.int(0, 9999)).padStart(4, "0")}${String(i).padStart(9, "0")}`,
      make,
      model: rng.pick(CAR_MAKES[make]!),
      year: String(rng.int(2008, 2025)),
      first_registered: isoDate(times[i]! - rng.int(0, 3000) * DAY),
    }, times[i]!);
    ctx.assoc.add(type.objectTypeId, record.idNum, contact, numId(rng.pick(contacts)));
  }
}

/** Calls, emails, meetings, notes and tasks logged against contacts, their companies and deals. */
function seedEngagements(
  ctx: Ctx,
  counts: Record<string, number>,
  companies: StoredRecord[],
  contacts: StoredRecord[],
  deals: StoredRecord[],
  tickets: StoredRecord[],
): void {
  const contact = typeId(ctx.store, "contacts");
  const company = typeId(ctx.store, "companies");
  const deal = typeId(ctx.store, "deals");
  const ticket = typeId(ctx.store, "tickets");
  const { rng } = ctx;
  for (const name of ["calls", "emails", "meetings", "notes", "tasks"]) {
    const type = typeOf(ctx.store, name);
    const n = counts[name]!;
    const times = creationTimes(rng, n, ctx.now);
    for (let i = 0; i < n; i++) {
      const at = times[i]!;
      const props = engagementProps(ctx, name, at);
      const owner = ownerId(ctx);
      if (owner) props.hubspot_owner_id = owner;
      const record = put(ctx, type, props, at);
      const who = rng.pick(contacts);
      ctx.assoc.add(type.objectTypeId, record.idNum, contact, who.idNum);
      const employer = who.properties.associatedcompanyid;
      if (employer && rng.chance(0.8)) ctx.assoc.add(type.objectTypeId, record.idNum, company, Number(employer));
      else if (rng.chance(0.2)) ctx.assoc.add(type.objectTypeId, record.idNum, company, numId(rng.pick(companies)));
      if (rng.chance(0.3)) ctx.assoc.add(type.objectTypeId, record.idNum, deal, numId(rng.pick(deals)));
      if (tickets.length > 0 && rng.chance(0.05)) ctx.assoc.add(type.objectTypeId, record.idNum, ticket, numId(rng.pick(tickets)));
    }
  }
}

function engagementProps(ctx: Ctx, name: string, at: number): Record<string, string> {
  const { rng } = ctx;
  const props: Record<string, string> = { hs_timestamp: isoDateTime(at) };
  switch (name) {
    case "calls":
      props.hs_call_title = `Call: ${sentence(rng, 3)}`;
      props.hs_call_body = `<p>${sentence(rng, 12)}</p>`;
      props.hs_call_duration = String(rng.int(20, 3600) * 1000);
      props.hs_call_direction = rng.pick(["INBOUND", "OUTBOUND"]);
      props.hs_call_status = rng.pick(["COMPLETED", "COMPLETED", "NO_ANSWER", "BUSY"]);
      break;
    case "emails":
      props.hs_email_subject = sentence(rng, 5).slice(0, -1);
      props.hs_email_text = sentence(rng, 20);
      props.hs_email_direction = rng.pick(["EMAIL", "INCOMING_EMAIL"]);
      props.hs_email_status = "SENT";
      break;
    case "meetings":
      props.hs_meeting_title = `Meeting: ${sentence(rng, 3)}`;
      props.hs_meeting_body = `<p>${sentence(rng, 10)}</p>`;
      props.hs_meeting_start_time = isoDateTime(at);
      props.hs_meeting_end_time = isoDateTime(at + rng.pick([30, 45, 60]) * 60_000);
      props.hs_meeting_outcome = rng.pick(["SCHEDULED", "COMPLETED", "NO_SHOW", "CANCELED"]);
      break;
    case "notes":
      props.hs_note_body = `<div>${sentence(rng, 16)}</div>`;
      break;
    case "tasks":
      props.hs_task_subject = `Follow up: ${sentence(rng, 3)}`;
      props.hs_task_body = sentence(rng, 10);
      props.hs_task_status = rng.pick(["NOT_STARTED", "IN_PROGRESS", "COMPLETED", "WAITING"]);
      props.hs_task_priority = rng.pick(["NONE", "LOW", "MEDIUM", "HIGH"]);
      props.hs_task_type = rng.pick(["CALL", "EMAIL", "TODO"]);
      break;
  }
  return props;
}

// ---- life cycle: archived and merged records ---------------------------------------------------

function laterThan(ctx: Ctx, ...times: number[]): number {
  const base = Math.max(...times);
  return Math.min(ctx.now, base + ctx.rng.int(1, Math.max(1, Math.min(30 * DAY, ctx.now - base))));
}

/** ~2% of the main objects are in the recycle bin (archivedAt after their last change). */
function archiveSome(ctx: Ctx, lists: Record<string, StoredRecord[]>): void {
  for (const [name, records] of Object.entries(lists)) {
    const type = typeOf(ctx.store, name);
    const n = Math.max(1, Math.round(records.length * 0.02));
    for (const r of ctx.rng.sample(records, n)) {
      if (r.archived) continue;
      if (ctx.store.archiveRecord(type, r.id, { at: laterThan(ctx, r.updatedAt) })) {
        ctx.summary.archived[name] = (ctx.summary.archived[name] ?? 0) + 1;
      }
    }
  }
}

/** ~1% of contacts and ~0.5% of companies were duplicates merged into another record. */
function mergeSome(ctx: Ctx, companies: StoredRecord[], contacts: StoredRecord[]): void {
  const plan: Array<[string, StoredRecord[], number]> = [
    ["contacts", contacts, 0.01],
    ["companies", companies, 0.005],
  ];
  for (const [name, records, share] of plan) {
    const type = typeOf(ctx.store, name);
    const n = Math.max(1, Math.round(records.length * share));
    let done = 0;
    for (let attempt = 0; done < n && attempt < n * 4 && records.length > 2; attempt++) {
      const [winner, loser] = ctx.rng.sample(records, 2) as [StoredRecord, StoredRecord];
      if (winner.archived || loser.archived) continue;
      if (!ctx.store.getRecord(type, winner.id) || !ctx.store.getRecord(type, loser.id)) continue;
      const at = laterThan(ctx, winner.updatedAt, loser.updatedAt);
      const merged = ctx.store.mergeRecords(type, winner.id, loser.id, { at });
      if (merged) {
        done++;
        if (name === "companies") repointPrimaryCompany(ctx, contacts, [winner.id, loser.id], merged.id, at);
      }
    }
    ctx.summary.merged[name] = done;
  }
}

/** After a company merge HubSpot rewrites the contacts' primary company id (and that is a contact edit). */
function repointPrimaryCompany(ctx: Ctx, contacts: StoredRecord[], goneIds: string[], mergedId: string, at: number): void {
  const type = typeOf(ctx.store, "contacts");
  for (const c of contacts) {
    const company = c.properties.associatedcompanyid;
    if (company && company !== mergedId && goneIds.includes(company) && ctx.store.getRecord(type, c.id)) {
      ctx.store.updateRecord(type, c.id, { associatedcompanyid: mergedId }, { at: Math.max(at, c.updatedAt) });
    }
  }
}

/**
 * HubSpot's calculated counters (num_associated_contacts / num_associated_deals) as they stand after
 * seeding. Set in place: they are in no index, and a calculated value is not a user edit.
 */
function fillAssociationCounts(ctx: Ctx): void {
  const counts: Array<[string, string, string]> = [
    ["companies", "contacts", "num_associated_contacts"],
    ["deals", "contacts", "num_associated_contacts"],
    ["contacts", "deals", "num_associated_deals"],
  ];
  for (const [fromName, toName, property] of counts) {
    const from = typeOf(ctx.store, fromName);
    const perRecord = new Map<number, number>();
    for (const a of ctx.assoc.list(from.objectTypeId, typeId(ctx.store, toName))) perRecord.set(a.fromId, (perRecord.get(a.fromId) ?? 0) + 1);
    for (const r of ctx.store.recordList(from, false)) r.properties[property] = String(perRecord.get(r.idNum) ?? 0);
  }
}
