import { Client } from "@hubspot/api-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import * as A from "./openapi/associations.ts";
import { ErrorBody, RateLimitErrorBody } from "./openapi/common.ts";
import * as O from "./openapi/objects.ts";
import * as W from "./openapi/owners.ts";
import * as P from "./openapi/pipelines.ts";
import * as Pr from "./openapi/properties.ts";
import * as S from "./openapi/schemas.ts";

/**
 * Every endpoint the simulator serves, called the way a client calls HubSpot (through
 * @hubspot/api-client where it has a method, raw HTTP otherwise), with each raw response body —
 * successes and errors — checked against our zod transcription of HubSpot's OpenAPI specs.
 */

let sim: RunningSimulator;
let hubspot: Client;
/** Raw responses as they came off the wire, captured before the SDK deserialises them. */
const wire: Array<{ status: number; text: string }> = [];

interface Wire {
  status: number;
  json: unknown;
}

function lastWire(): Wire {
  const last = wire.at(-1);
  if (!last) throw new Error("no response captured");
  return { status: last.status, json: last.text ? JSON.parse(last.text) : undefined };
}

/** Calls the SDK, then validates the raw body with `schema` and checks the status. */
async function sdk(status: number, schema: z.ZodType | null, call: () => Promise<unknown>): Promise<any> {
  wire.length = 0;
  try {
    await call();
  } catch (err) {
    if (!(err as { code?: number }).code) throw err;
  }
  return conform(lastWire(), status, schema);
}

async function http(status: number, schema: z.ZodType | null, method: string, path: string, body?: unknown, token = sim.token): Promise<any> {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return conform({ status: res.status, json: text ? JSON.parse(text) : undefined }, status, schema);
}

function conform(got: Wire, status: number, schema: z.ZodType | null): any {
  expect(got.status, JSON.stringify(got.json)?.slice(0, 500)).toBe(status);
  if (schema === null) {
    expect(got.json).toBeUndefined();
    return undefined;
  }
  const parsed = schema.safeParse(got.json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n");
    throw new Error(`response does not match the spec:\n${issues}\n${JSON.stringify(got.json).slice(0, 800)}`);
  }
  return got.json;
}

/** The SDK's AssociationSpec (its category enum type is not exported from the package root). */
type Spec = Parameters<Client["crm"]["associations"]["v4"]["basicApi"]["create"]>[4][number];
const hs = (id: number) => ({ associationCategory: "HUBSPOT_DEFINED", associationTypeId: id }) as Spec;

beforeAll(async () => {
  sim = await startSimulator({ rateLimits: false, seed: { size: 400, seed: 3 } });
  hubspot = new Client({
    accessToken: sim.token,
    basePath: sim.url,
    numberOfApiCallRetries: 0,
    middleware: [
      {
        pre: (ctx: unknown) => Promise.resolve(ctx),
        post: async (ctx: unknown) => {
          const c = ctx as { httpStatusCode: number; body: { text(): Promise<string>; binary(): Promise<Buffer> } };
          const text = await c.body.text();
          wire.push({ status: c.httpStatusCode, text });
          c.body = { text: async () => text, binary: async () => Buffer.from(text) };
          return c;
        },
      },
    ],
  });
});

afterAll(async () => {
  await sim?.close();
});

describe("CRM objects v3 (objects.json)", () => {
  let ids: string[] = [];

  it("list, get, create, update, archive", async () => {
    const list = await sdk(200, O.CollectionResponseSimplePublicObjectWithAssociationsForwardPaging, () =>
      hubspot.crm.objects.basicApi.getPage("contacts", 5, undefined, ["email", "sim_tier", "no_such_property"], undefined, ["companies"]),
    );
    expect(list.results).toHaveLength(5);
    expect(list.paging.next.after).toBeTruthy();
    expect(list.results.some((r: any) => r.associations?.companies)).toBe(true);
    await sdk(200, O.CollectionResponseSimplePublicObjectWithAssociationsForwardPaging, () =>
      hubspot.crm.objects.basicApi.getPage("contacts", 3, undefined, undefined, undefined, undefined, true),
    );
    await sdk(200, O.CollectionResponseSimplePublicObjectWithAssociationsForwardPaging, () => hubspot.crm.objects.basicApi.getPage("cars", 3));
    const created = await sdk(201, O.SimplePublicObject, () =>
      hubspot.crm.objects.basicApi.create("contacts", { properties: { email: "openapi@conform.example", firstname: "Open" }, associations: [] }),
    );
    await sdk(200, O.SimplePublicObjectWithAssociations, () => hubspot.crm.objects.basicApi.getById("contacts", created.id, ["email"], undefined, ["companies"]));
    await sdk(200, O.SimplePublicObject, () => hubspot.crm.objects.basicApi.update("contacts", created.id, { properties: { lastname: "Api" } }));
    await sdk(204, null, () => hubspot.crm.objects.basicApi.archive("contacts", created.id));
    await sdk(200, O.SimplePublicObjectWithAssociations, () =>
      hubspot.crm.objects.basicApi.getById("contacts", created.id, undefined, undefined, undefined, true),
    );
    ids = list.results.map((r: any) => r.id);
  });

  it("errors: missing record, bad property value, unknown property, bad token", async () => {
    await sdk(404, ErrorBody, () => hubspot.crm.objects.basicApi.getById("contacts", "999999999"));
    await sdk(400, ErrorBody, () => hubspot.crm.objects.basicApi.create("contacts", { properties: { no_such_property: "x" }, associations: [] }));
    await sdk(400, ErrorBody, () => hubspot.crm.objects.basicApi.update("contacts", ids[0]!, { properties: { sim_score: "not a number" } }));
    await sdk(400, ErrorBody, () => hubspot.crm.objects.basicApi.update("contacts", ids[0]!, { properties: { sim_tier: "diamond" } }));
    await http(401, ErrorBody, "GET", "/crm/v3/objects/contacts", undefined, "wrong-token");
  });

  it("batch read, create, update, upsert, archive", async () => {
    await sdk(200, O.BatchResponseSimplePublicObject, () =>
      hubspot.crm.objects.batchApi.read("contacts", { inputs: ids.map((id) => ({ id })), properties: ["email"], propertiesWithHistory: [] }),
    );
    const partial = await sdk(207, O.BatchResponseSimplePublicObjectWithErrors, () =>
      hubspot.crm.objects.batchApi.read("contacts", { inputs: [{ id: ids[0]! }, { id: "999999999" }], properties: [], propertiesWithHistory: [] }),
    );
    expect(partial.errors[0].category).toBe("OBJECT_NOT_FOUND");
    const created = await sdk(201, O.BatchResponseSimplePublicObject, () =>
      hubspot.crm.objects.batchApi.create("companies", {
        inputs: [
          { properties: { name: "Conform A", domain: "conform-a.example" }, associations: [] },
          { properties: { name: "Conform B", domain: "conform-b.example" }, associations: [] },
        ],
      }),
    );
    const companyIds: string[] = created.results.map((r: any) => r.id);
    await sdk(200, O.BatchResponseSimplePublicObject, () =>
      hubspot.crm.objects.batchApi.update("companies", { inputs: companyIds.map((id) => ({ id, properties: { city: "Lyon" } })) }),
    );
    await sdk(200, O.BatchResponseSimplePublicUpsertObject, () =>
      hubspot.crm.objects.batchApi.upsert("cars", {
        inputs: [
          { id: "VINCONFORM0001", idProperty: "vin", properties: { model: "Golf" } },
          { id: "VINCONFORM0002", idProperty: "vin", properties: { model: "Zoe" } },
        ],
      }),
    );
    await sdk(400, ErrorBody, () =>
      hubspot.crm.objects.batchApi.read("contacts", { inputs: Array.from({ length: 101 }, (_, i) => ({ id: String(i + 1) })), properties: [], propertiesWithHistory: [] }),
    );
    await sdk(204, null, () => hubspot.crm.objects.batchApi.archive("companies", { inputs: companyIds.map((id) => ({ id })) }));
  });

  it("search and merge", async () => {
    const found = await sdk(200, O.CollectionResponseWithTotalSimplePublicObject, () =>
      hubspot.crm.objects.searchApi.doSearch("contacts", {
        filterGroups: [{ filters: [{ propertyName: "lastmodifieddate", operator: "GTE" as never, value: "0" }] }],
        sorts: [{ propertyName: "lastmodifieddate", direction: "ASCENDING" } as never],
        properties: ["email"],
        limit: 10,
        after: "0",
      }),
    );
    expect(found.total).toBeGreaterThan(10);
    await sdk(400, ErrorBody, () =>
      hubspot.crm.objects.searchApi.doSearch("contacts", { filterGroups: [], sorts: [], properties: [], limit: 10, after: "10000" }),
    );
    await sdk(200, O.SimplePublicObject, () => hubspot.crm.contacts.basicApi.merge({ primaryObjectId: ids[0]!, objectIdToMerge: ids[1]! }));
    await sdk(200, O.SimplePublicObjectWithAssociations, () => hubspot.crm.objects.basicApi.getById("contacts", ids[0]!, ["email"], ["email", "firstname"]));
    await sdk(200, O.BatchResponseSimplePublicObject, () =>
      hubspot.crm.objects.batchApi.read("contacts", { inputs: [{ id: ids[0]! }], properties: [], propertiesWithHistory: ["email"] }),
    );
    await sdk(204, null, () => hubspot.crm.contacts.basicApi.purge({ objectId: ids[2]! }));
  });
});

describe("properties v3 (properties.json)", () => {
  it("list, get, create, update, archive, groups and errors", async () => {
    await sdk(200, Pr.CollectionResponsePropertyNoPaging, () => hubspot.crm.properties.coreApi.getAll("contacts"));
    await sdk(200, Pr.CollectionResponsePropertyNoPaging, () => hubspot.crm.properties.coreApi.getAll("cars"));
    await sdk(200, Pr.Property, () => hubspot.crm.properties.coreApi.getByName("deals", "dealstage"));
    await sdk(201, Pr.Property, () =>
      hubspot.crm.properties.coreApi.create("companies", {
        name: "conform_flag",
        label: "Conform flag",
        type: "enumeration" as never,
        fieldType: "booleancheckbox" as never,
        groupName: "companyinformation",
        options: [
          { label: "Yes", value: "true", hidden: false },
          { label: "No", value: "false", hidden: false },
        ],
      }),
    );
    await sdk(200, Pr.Property, () => hubspot.crm.properties.coreApi.update("companies", "conform_flag", { label: "Conformance flag" }));
    await sdk(204, null, () => hubspot.crm.properties.coreApi.archive("companies", "conform_flag"));
    await sdk(404, ErrorBody, () => hubspot.crm.properties.coreApi.getByName("companies", "no_such_property"));
    await sdk(200, Pr.CollectionResponsePropertyGroupNoPaging, () => hubspot.crm.properties.groupsApi.getAll("contacts"));
  });
});

describe("schemas v3 (schemas.json)", () => {
  it("list and get custom object schemas", async () => {
    const all = await sdk(200, S.CollectionResponseObjectSchemaNoPaging, () => hubspot.crm.schemas.coreApi.getAll());
    expect(all.results.some((s: any) => s.name === "cars")).toBe(true);
    await sdk(200, S.ObjectSchema, () => hubspot.crm.schemas.coreApi.getById("cars"));
    await sdk(404, ErrorBody, () => hubspot.crm.schemas.coreApi.getById("no_such_object"));
    await http(200, S.CollectionResponseObjectSchemaNoPaging, "GET", "/crm/v3/schemas");
    const created = await sdk(201, S.ObjectSchema, () =>
      hubspot.crm.schemas.coreApi.create({
        name: "boats",
        labels: { singular: "Boat", plural: "Boats" },
        primaryDisplayProperty: "hull_id",
        requiredProperties: ["hull_id"],
        associatedObjects: ["CONTACT"],
        properties: [{ name: "hull_id", label: "Hull id", type: "string" as never, fieldType: "text" as never, hasUniqueValue: true }],
      }),
    );
    expect(created.objectTypeId).toMatch(/^2-\d+$/);
    const boats = await sdk(201, O.SimplePublicObject, () =>
      hubspot.crm.objects.basicApi.create(created.objectTypeId, { properties: { hull_id: "H-1" }, associations: [] }),
    );
    await sdk(200, O.SimplePublicObjectWithAssociations, () => hubspot.crm.objects.basicApi.getById(created.fullyQualifiedName, boats.id));
  });
});

describe("owners v3 (crmOwners.json)", () => {
  it("list and get", async () => {
    const page = await sdk(200, W.CollectionResponsePublicOwnerForwardPaging, () => hubspot.crm.owners.ownersApi.getPage(undefined, undefined, 5));
    await sdk(200, W.CollectionResponsePublicOwnerForwardPaging, () => hubspot.crm.owners.ownersApi.getPage(undefined, undefined, 100, true));
    await sdk(200, W.PublicOwner, () => hubspot.crm.owners.ownersApi.getById(Number(page.results[0].id)));
  });
});

describe("pipelines v3 (pipelines.json)", () => {
  it("pipelines and stages of deals and tickets", async () => {
    const deals = await sdk(200, P.CollectionResponsePipelineNoPaging, () => hubspot.crm.pipelines.pipelinesApi.getAll("deals"));
    await sdk(200, P.CollectionResponsePipelineNoPaging, () => hubspot.crm.pipelines.pipelinesApi.getAll("tickets"));
    const pipeline = deals.results[0];
    await sdk(200, P.Pipeline, () => hubspot.crm.pipelines.pipelinesApi.getById("deals", pipeline.id));
    await sdk(200, P.CollectionResponsePipelineStageNoPaging, () => hubspot.crm.pipelines.pipelineStagesApi.getAll("deals", pipeline.id));
    await sdk(200, P.PipelineStage, () => hubspot.crm.pipelines.pipelineStagesApi.getById("deals", pipeline.id, pipeline.stages[0].id));
    await sdk(404, ErrorBody, () => hubspot.crm.pipelines.pipelinesApi.getById("deals", "no-such-pipeline"));
  });
});

describe("associations v4 (associations.json, associationsSchema.json)", () => {
  it("records: batch read/create/default/archive and the basic API", async () => {
    const contacts = (await hubspot.crm.objects.basicApi.getPage("contacts", 3)).results.map((r) => r.id);
    const companies = (await hubspot.crm.objects.basicApi.getPage("companies", 3)).results.map((r) => r.id);
    const [c1, c2, c3] = contacts as [string, string, string];
    const [k1, k2] = companies as [string, string];
    await sdk(201, A.BatchResponseLabelsBetweenObjectPair, () =>
      hubspot.crm.associations.v4.batchApi.create("contact", "company", { inputs: [{ _from: { id: c1 }, to: { id: k1 }, types: [hs(1)] }] }),
    );
    await sdk(207, A.BatchResponseLabelsBetweenObjectPairWithErrors, () =>
      hubspot.crm.associations.v4.batchApi.create("contact", "company", {
        inputs: [
          { _from: { id: c1 }, to: { id: k1 }, types: [hs(1)] },
          { _from: { id: "999999999" }, to: { id: k1 }, types: [hs(1)] },
        ],
      }),
    );
    await sdk(200, A.BatchResponsePublicAssociationMultiWithLabel, () =>
      hubspot.crm.associations.v4.batchApi.getPage("contact", "company", { inputs: [{ id: c1 }] }),
    );
    await http(200, A.BatchResponsePublicAssociationMultiWithLabel, "POST", "/crm/v4/associations/company/contact/batch/read", { inputs: [{ id: k1 }] });
    await sdk(207, A.BatchResponsePublicAssociationMultiWithLabelWithErrors, () =>
      hubspot.crm.associations.v4.batchApi.getPage("contact", "company", { inputs: [{ id: c1 }, { id: "999999999" }] }),
    );
    await sdk(200, A.BatchResponsePublicDefaultAssociation, () =>
      hubspot.crm.associations.v4.batchApi.createDefault("contact", "company", { inputs: [{ _from: { id: c2 }, to: { id: k2 } }] }),
    );
    await sdk(204, null, () => hubspot.crm.associations.v4.batchApi.archiveLabels("contact", "company", { inputs: [{ _from: { id: c1 }, to: { id: k1 }, types: [hs(1)] }] }));
    await sdk(204, null, () => hubspot.crm.associations.v4.batchApi.archive("contact", "company", { inputs: [{ _from: { id: c2 }, to: [{ id: k2 }] }] }));
    await sdk(400, ErrorBody, () =>
      hubspot.crm.associations.v4.batchApi.getPage("contact", "company", { inputs: Array.from({ length: 1001 }, (_, i) => ({ id: String(i + 1) })) }),
    );
    await sdk(400, ErrorBody, () => hubspot.crm.associations.v4.batchApi.getPage("no_such_type", "company", { inputs: [{ id: c1 }] }));

    await sdk(201, A.LabelsBetweenObjectPair, () => hubspot.crm.associations.v4.basicApi.create("contact", c3, "company", k1, [hs(1)]));
    await sdk(200, A.BatchResponsePublicDefaultAssociation, () => hubspot.crm.associations.v4.basicApi.createDefault("contact", c3, "company", k2));
    await sdk(200, A.CollectionResponseMultiAssociatedObjectWithLabelForwardPaging, () =>
      hubspot.crm.associations.v4.basicApi.getPage("contact", c3, "company", undefined, 1),
    );
    await sdk(204, null, () => hubspot.crm.associations.v4.basicApi.archive("contact", c3, "company", k2));
    await sdk(404, ErrorBody, () => hubspot.crm.associations.v4.basicApi.create("contact", "999999999", "company", k1, [hs(279)]));
    await sdk(400, ErrorBody, () => hubspot.crm.associations.v4.basicApi.create("contact", c3, "company", k1, [hs(4)]));
  });

  it("labels and limits configuration", async () => {
    const api = hubspot.crm.associations.v4.schema.definitionsApi;
    await sdk(200, A.CollectionResponseAssociationSpecWithLabelNoPaging, () => api.getAll("contact", "company"));
    await http(200, A.CollectionResponseAssociationSpecWithLabelNoPaging, "GET", "/crm/associations/v4/deals/companies/labels");
    const created = await sdk(200, A.CollectionResponseAssociationSpecWithLabelNoPaging, () =>
      api.create("deal", "contact", { label: "Champion", name: "champion", inverseLabel: "Champions" }),
    );
    const typeId = created.results.find((r: any) => r.label === "Champion").typeId;
    await sdk(204, null, () => api.update("deal", "contact", { associationTypeId: typeId, label: "Sponsor" }));
    await sdk(400, ErrorBody, () => api.create("deal", "contact", { label: "Sponsor", name: "champion" }));
    await sdk(204, null, () => api.remove("deal", "contact", typeId));
    await sdk(400, ErrorBody, () => api.remove("deal", "contact", 3));
    await http(200, A.CollectionResponsePublicAssociationDefinitionUserConfigurationNoPaging, "GET", "/crm/v4/associations/definitions/configurations/all");
    await http(200, A.CollectionResponsePublicAssociationDefinitionUserConfigurationNoPaging, "GET", "/crm/v4/associations/definitions/configurations/contact/company");
  });
});

describe("transport errors: rate limits, faults, long URLs", () => {
  it("answers 429 with HubSpot's bodies for the burst and search limits, and 5xx/414 with Error bodies", async () => {
    try {
      await sim.control.configure({ rateLimits: { burst: 3, search: 1 } });
      const codes: number[] = [];
      let limited: unknown;
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${sim.url}/crm/v3/objects/contacts?limit=1`, { headers: { authorization: `Bearer ${sim.token}` } });
        codes.push(res.status);
        if (res.status === 429) limited = await res.json();
        else await res.text();
      }
      expect(codes).toContain(429);
      expect(RateLimitErrorBody.parse(limited).policyName).toBe("TEN_SECONDLY_ROLLING");
      const search = { filterGroups: [], sorts: [], properties: [], limit: 1, after: "0" };
      await http(200, O.CollectionResponseWithTotalSimplePublicObject, "POST", "/crm/v3/objects/contacts/search", search);
      const secondly = await http(429, RateLimitErrorBody, "POST", "/crm/v3/objects/contacts/search", search);
      expect(secondly).toMatchObject({ policyName: "SECONDLY", message: "You have reached your secondly limit." });
    } finally {
      await sim.control.configure({ rateLimits: false });
    }
    try {
      await sim.control.configure({ faults: { serverErrorRate: 1, statuses: [502] } });
      await http(502, ErrorBody, "GET", "/crm/v3/objects/contacts?limit=1");
    } finally {
      await sim.control.configure({ faults: { serverErrorRate: 0 } });
    }
    const longQuery = Array.from({ length: 600 }, (_, i) => `properties=property_number_${i}`).join("&");
    await http(414, ErrorBody, "GET", `/crm/v3/objects/contacts?${longQuery}`);
  });
});
