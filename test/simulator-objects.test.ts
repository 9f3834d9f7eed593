import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@hubspot/api-client";
import { apiError, testSimulator, type TestSimulator } from "./support/simulator.ts";

// CRM objects v3 through @hubspot/api-client: paging, properties, archived, writes, validation.

let sim: TestSimulator;
let hs: Client;

beforeAll(async () => {
  sim = await testSimulator();
  hs = sim.client();
});
afterAll(async () => sim.close());


describe("list paging", () => {
  beforeAll(async () => {
    await sim.control.reset();
    for (let i = 0; i < 23; i++) await sim.control.createRecord("companies", { name: `Co ${i}`, domain: `co${i}.example` });
  });

  it("defaults to 10 per page, with an opaque after cursor, and ends without paging", async () => {
    const first = await hs.crm.companies.basicApi.getPage();
    expect(first.results).toHaveLength(10);
    const after = first.paging!.next!.after;
    expect(after).not.toMatch(/^\d+$/);
    const ids = first.results.map((r) => r.id);
    let cursor: string | undefined = after;
    while (cursor) {
      const page = await hs.crm.companies.basicApi.getPage(10, cursor);
      ids.push(...page.results.map((r) => r.id));
      cursor = page.paging?.next?.after;
    }
    expect(ids).toHaveLength(23);
    expect(new Set(ids).size).toBe(23);
  });

  it("refuses limit above 100 with a VALIDATION_ERROR", async () => {
    const { code, body } = await apiError(hs.crm.companies.basicApi.getPage(101));
    expect(code).toBe(400);
    expect(body).toMatchObject({ status: "error", category: "VALIDATION_ERROR" });
    expect(body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("returns the default property set, or the requested ones plus the system ones, with null for empty", async () => {
    const d = await hs.crm.companies.basicApi.getPage(1);
    expect(Object.keys(d.results[0]!.properties).sort()).toEqual(["createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"]);
    const r = await hs.crm.companies.basicApi.getPage(1, undefined, ["name", "industry", "no_such_property"]);
    expect(r.results[0]!.properties).toEqual({
      name: "Co 0",
      industry: null,
      createdate: expect.any(String),
      hs_lastmodifieddate: expect.any(String),
      hs_object_id: r.results[0]!.id,
    });
  });

  it("accepts properties as a comma-separated list too", async () => {
    const res = await hs.apiRequest({ path: "/crm/v3/objects/companies?limit=2&properties=name,domain" });
    const body = (await res.json()) as { results: Array<{ properties: Record<string, string> }> };
    expect(body.results[0]!.properties.domain).toBe("co0.example");
  });

  it("archived=true lists only archived records, with archivedAt", async () => {
    const all = await sim.control.listRecords("companies");
    await hs.crm.companies.basicApi.archive(all[0]!.id);
    const archived = await hs.crm.companies.basicApi.getPage(100, undefined, undefined, undefined, undefined, true);
    expect(archived.results.map((r) => r.id)).toEqual([all[0]!.id]);
    expect(archived.results[0]!.archived).toBe(true);
    expect(archived.results[0]!.archivedAt).toBeInstanceOf(Date);
    const live = await hs.crm.companies.basicApi.getPage(100);
    expect(live.results.map((r) => r.id)).not.toContain(all[0]!.id);
  });
});

describe("object types", () => {
  it("accepts type ids and custom object names / fully qualified names / 2-x ids", async () => {
    const c = await sim.control.createRecord("contacts", { email: "typed@example.com" });
    const viaId = await hs.crm.objects.basicApi.getById("0-1", c.id, ["email"]);
    expect(viaId.properties.email).toBe("typed@example.com");
    const schema = await sim.control.createCustomObject({
      name: "cars",
      labels: { singular: "Car", plural: "Cars" },
      primaryDisplayProperty: "model",
      properties: [{ name: "model", type: "string", label: "Model" }, { name: "vin", type: "string", label: "VIN", hasUniqueValue: true }],
    });
    const created = await hs.crm.objects.basicApi.create("cars", { properties: { model: "T", vin: "V1" }, associations: [] });
    for (const ref of ["cars", String(schema.fullyQualifiedName), String(schema.objectTypeId)]) {
      const got = await hs.crm.objects.basicApi.getById(ref, created.id, ["model"]);
      expect(got.properties.model).toBe("T");
    }
    const byVin = await hs.crm.objects.basicApi.getById("cars", "V1", ["model"], undefined, undefined, false, "vin");
    expect(byVin.id).toBe(created.id);
    const { code, body } = await apiError(hs.crm.objects.basicApi.getPage("no_such_type"));
    expect(code).toBe(400);
    expect(body.category).toBe("VALIDATION_ERROR");
  });

  it("serves all 14 standard types", async () => {
    const types = ["contacts", "companies", "deals", "tickets", "products", "line_items", "quotes", "calls", "emails", "meetings", "notes", "tasks", "postal_mail", "communications"];
    for (const t of types) {
      const page = await hs.crm.objects.basicApi.getPage(t, 1);
      expect(page.results).toBeInstanceOf(Array);
    }
    const call = await hs.crm.objects.basicApi.create("calls", { properties: { hs_timestamp: "2025-01-02T03:04:05Z", hs_call_title: "hi" }, associations: [] });
    expect(Object.keys(call.properties)).toEqual(expect.arrayContaining(["hs_createdate", "hs_lastmodifieddate", "hs_object_id"]));
  });
});

describe("single-record writes", () => {
  it("creates (201), reads, updates and archives (204), moving last-modified but not on archive", async () => {
    const created = await hs.crm.contacts.basicApi.create({ properties: { email: "Mixed.Case@Example.com", firstname: "Ann" }, associations: [] });
    expect(created.properties.email).toBe("mixed.case@example.com");
    expect(created.createdAt).toBeInstanceOf(Date);
    await new Promise((r) => setTimeout(r, 5));
    const updated = await hs.crm.contacts.basicApi.update(created.id, { properties: { lastname: "Lee", firstname: "" } });
    expect(updated.updatedAt.getTime()).toBeGreaterThan(created.updatedAt.getTime());
    expect(updated.properties.lastmodifieddate).toBe(updated.updatedAt.toISOString());
    const got = await hs.crm.contacts.basicApi.getById(created.id, ["firstname", "lastname"]);
    expect(got.properties).toMatchObject({ firstname: null, lastname: "Lee" });
    const byEmail = await hs.crm.contacts.basicApi.getById("MIXED.case@example.com", ["email"], undefined, undefined, false, "email");
    expect(byEmail.id).toBe(created.id);
    await hs.crm.contacts.basicApi.archive(created.id);
    const gone = await apiError(hs.crm.contacts.basicApi.getById(created.id));
    expect(gone.code).toBe(404);
    expect(gone.body.category).toBe("OBJECT_NOT_FOUND");
    const archived = await hs.crm.contacts.basicApi.getById(created.id, undefined, undefined, undefined, true);
    expect(archived.archived).toBe(true);
    expect(archived.updatedAt.getTime()).toBe(updated.updatedAt.getTime());
  });

  it("stores normalised values: numbers, booleans, datetimes (ISO or epoch ms), dates, multi-selects", async () => {
    const c = await hs.crm.contacts.basicApi.create({
      properties: { email: "norm@example.com", annualrevenue: "1000.50", hs_email_optout: "TRUE", date_of_birth: "1990-05-01" },
      associations: [],
    });
    expect(c.properties).toMatchObject({ annualrevenue: "1000.5", hs_email_optout: "true", date_of_birth: "1990-05-01" });
    const d = await hs.crm.deals.basicApi.create({ properties: { dealname: "D", pipeline: "default", dealstage: "qualifiedtobuy", closedate: "1735689600000", amount: "12" }, associations: [] });
    expect(d.properties.closedate).toBe("2025-01-01T00:00:00.000Z");
    const t = await hs.crm.tickets.basicApi.create({ properties: { subject: "S", hs_pipeline: "0", hs_pipeline_stage: "1", hs_ticket_category: "BILLING_ISSUE" }, associations: [] });
    const t2 = await hs.crm.tickets.basicApi.update(t.id, { properties: { hs_ticket_category: ";PRODUCT_ISSUE" } });
    expect(t2.properties.hs_ticket_category).toBe("BILLING_ISSUE;PRODUCT_ISSUE");
  });

  it("answers HubSpot's 400 VALIDATION_ERROR bodies for bad values", async () => {
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ lifecyclestage: "not-a-stage" }, "INVALID_OPTION", "lifecyclestage"],
      [{ annualrevenue: "lots" }, "INVALID_INTEGER", "annualrevenue"],
      [{ hs_analytics_num_visits: "3" }, "READ_ONLY_VALUE", "hs_analytics_num_visits"],
      [{ testproperty: "x" }, "PROPERTY_DOESNT_EXIST", "testproperty"],
      [{ email: "not-an-email" }, "INVALID_EMAIL", "email"],
      [{ hs_email_optout: "maybe" }, "INVALID_BOOLEAN", "hs_email_optout"],
      [{ date_of_birth: "1990-05-01T10:00:00Z" }, "INVALID_DATE", "date_of_birth"],
    ];
    for (const [properties, code, name] of cases) {
      const { code: status, body } = await apiError(hs.crm.contacts.basicApi.create({ properties, associations: [] }));
      expect(status).toBe(400);
      expect(body).toMatchObject({ status: "error", category: "VALIDATION_ERROR", errors: [{ code, context: { propertyName: [name] } }] });
      expect(body.message).toMatch(/^Property values were not valid: \[/);
      const inner = JSON.parse(body.message.slice("Property values were not valid: ".length));
      expect(inner[0]).toMatchObject({ isValid: false, error: code, name });
    }
    const missing = await apiError(hs.crm.contacts.basicApi.create({ properties: { testproperty: "x" }, associations: [] }));
    expect(missing.body.errors[0].message).toBe('Property "testproperty" does not exist');
  });

  it("creates with associations in the same call", async () => {
    const co = await hs.crm.companies.basicApi.create({ properties: { name: "Assoc" }, associations: [] });
    const c = await hs.crm.contacts.basicApi.create({
      properties: { email: "with-assoc@example.com" },
      associations: [{ to: { id: co.id }, types: [{ associationCategory: "HUBSPOT_DEFINED" as any, associationTypeId: 279 }] }],
    });
    const links = await sim.control.listAssociations("contacts", "companies");
    expect(links.filter((l) => l.fromId === c.id).map((l) => l.toId)).toEqual([co.id]);
  });

  it("answers 409 CONFLICT for a taken unique value", async () => {
    const first = await hs.crm.contacts.basicApi.create({ properties: { email: "dup@example.com" }, associations: [] });
    const { code, body } = await apiError(hs.crm.contacts.basicApi.create({ properties: { email: "DUP@example.com" }, associations: [] }));
    expect(code).toBe(409);
    expect(body).toMatchObject({ category: "CONFLICT", message: `Contact already exists. Existing ID: ${first.id}` });
  });
});

describe("properties, schemas, owners, pipelines", () => {
  it("lists and creates property definitions with HubSpot's fields", async () => {
    const all = await hs.crm.properties.coreApi.getAll("contacts");
    const byName = new Map(all.results.map((p) => [p.name, p]));
    expect(byName.get("lifecyclestage")).toMatchObject({ type: "enumeration", hubspotDefined: true });
    expect(byName.get("lifecyclestage")!.options.length).toBeGreaterThan(3);
    expect(byName.get("hs_analytics_num_visits")!.modificationMetadata!.readOnlyValue).toBe(true);
    expect(byName.get("hs_analytics_num_visits")!.calculated).toBe(true);
    expect(byName.get("lastmodifieddate")).toMatchObject({ type: "datetime" });
    const created = await hs.crm.properties.coreApi.create("contacts", {
      name: "favourite_colour",
      label: "Favourite colour",
      type: "enumeration" as any,
      fieldType: "select" as any,
      groupName: "contactinformation",
      options: [{ label: "Red", value: "red", hidden: false, displayOrder: 0 }],
    });
    expect(created).toMatchObject({ name: "favourite_colour", hubspotDefined: false, hasUniqueValue: false });
    const groups = await hs.crm.properties.groupsApi.getAll("contacts");
    expect(groups.results.map((g) => g.name)).toContain("contactinformation");
    const one = await hs.crm.properties.coreApi.getByName("contacts", "favourite_colour");
    expect(one.options.map((o) => o.value)).toEqual(["red"]);
    await hs.crm.properties.coreApi.archive("contacts", "favourite_colour");
    const archived = await hs.crm.properties.coreApi.getAll("contacts", true);
    expect(archived.results.map((p) => p.name)).toContain("favourite_colour");
    const { code } = await apiError(hs.crm.contacts.basicApi.create({ properties: { favourite_colour: "red" }, associations: [] }));
    expect(code).toBe(400);
  });

  it("serves schemas, owners (paged, by email, by userId) and pipelines with stage metadata", async () => {
    const schema = await hs.crm.schemas.coreApi.create({
      name: "boats",
      labels: { singular: "Boat", plural: "Boats" },
      primaryDisplayProperty: "hull",
      requiredProperties: ["hull"],
      properties: [{ name: "hull", label: "Hull", type: "string", fieldType: "text" } as any],
      associatedObjects: [],
    });
    expect(schema.objectTypeId).toMatch(/^2-\d+$/);
    expect(schema.fullyQualifiedName).toMatch(/^p\d+_boats$/);
    const schemas = await hs.crm.schemas.coreApi.getAll();
    expect(schemas.results.map((s) => s.name)).toContain("boats");
    for (let i = 0; i < 3; i++) sim.store.addOwner({ email: `owner${i}@example.com`, firstName: `O${i}` });
    const page = await hs.crm.owners.ownersApi.getPage(undefined, undefined, 2);
    expect(page.results).toHaveLength(2);
    const next = await hs.crm.owners.ownersApi.getPage(undefined, page.paging!.next!.after, 2);
    expect(next.results).toHaveLength(1);
    const byEmail = await hs.crm.owners.ownersApi.getPage("owner1@example.com");
    expect(byEmail.results.map((o) => o.firstName)).toEqual(["O1"]);
    const byUser = await hs.crm.owners.ownersApi.getById(byEmail.results[0]!.userId!, "userId");
    expect(byUser.id).toBe(byEmail.results[0]!.id);
    const deals = await hs.crm.pipelines.pipelinesApi.getAll("deals");
    expect(deals.results[0]!.stages.find((s) => s.id === "closedwon")!.metadata!.probability).toBe("1.0");
    const tickets = await hs.crm.pipelines.pipelinesApi.getAll("tickets");
    expect(tickets.results[0]!.stages.map((s) => s.metadata!.ticketState)).toContain("CLOSED");
    // Owner ids are the options of hubspot_owner_id: an unknown one is refused.
    const bad = await apiError(hs.crm.contacts.basicApi.create({ properties: { hubspot_owner_id: "999" }, associations: [] }));
    expect(bad.body.errors[0].code).toBe("INVALID_OPTION");
  });
});
