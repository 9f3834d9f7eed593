import type { Client } from "@hubspot/api-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import * as A from "./openapi/associations.ts";
import { ErrorBody } from "./openapi/common.ts";
import * as D from "./openapi/dated.ts";
import * as O from "./openapi/objects.ts";
import * as W from "./openapi/owners.ts";
import * as Pr from "./openapi/properties.ts";
import { testSimulator, type TestSimulator } from "./support/simulator.ts";

/**
 * The date-versioned paths (`/crm/objects/2026-09/…`, `/crm/associations/2026-03/…`, …) reached the
 * way hubsync reaches them, through @hubspot/api-client's `apiRequest` over real HTTP, each body
 * checked against the spec's shape for that version, and the differences the versions declare
 * (association archives answer 200 with a body, 2026-09 declares no 207 and answers creates of
 * associations with 200, 2026-09 has no record-level association list) checked one by one.
 */

let sim: TestSimulator;
let hubspot: Client;

beforeAll(async () => {
  sim = await testSimulator({ seed: { size: 300, seed: 5 } });
  hubspot = sim.client();
});

afterAll(async () => {
  await sim?.close();
});

async function call(status: number, schema: z.ZodType | null, method: string, path: string, body?: unknown): Promise<any> {
  const res = await hubspot.apiRequest({ method, path, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  const json = text ? JSON.parse(text) : undefined;
  expect(res.status, `${method} ${path}: ${text.slice(0, 400)}`).toBe(status);
  if (schema === null) {
    expect(json).toBeUndefined();
    return undefined;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n");
    throw new Error(`${method} ${path} does not match the spec:\n${issues}\n${text.slice(0, 800)}`);
  }
  return json;
}

const hs = (id: number) => ({ associationCategory: "HUBSPOT_DEFINED", associationTypeId: id });

describe.each(["2026-03", "2026-09"] as const)("dated APIs %s", (v) => {
  const late = v === "2026-09";
  const Obj = late ? D.SimplePublicObject2026_09 : O.SimplePublicObject;
  const BatchObj = late ? D.BatchResponseSimplePublicObject2026_09 : O.BatchResponseSimplePublicObject;

  it("objects: list, get, create, update, archive, search; the same records as v3", async () => {
    const list = await call(200, O.CollectionResponseSimplePublicObjectWithAssociationsForwardPaging, "GET", `/crm/objects/${v}/contacts?limit=5&properties=email`);
    expect(list.results).toHaveLength(5);
    expect(list.paging.next.after).toBeTruthy();
    const legacy = (await hubspot.crm.objects.basicApi.getPage("contacts", 5, undefined, ["email"])).results;
    expect(list.results.map((r: any) => [r.id, r.properties.email])).toEqual(legacy.map((r) => [r.id, r.properties.email]));

    const created = await call(201, Obj, "POST", `/crm/objects/${v}/contacts`, { properties: { email: `dated-${v}@example.com`, firstname: "Dated" } });
    // Written through the dated path, visible through v3 and back.
    const viaV3 = await hubspot.crm.objects.basicApi.getById("contacts", created.id, ["email"]);
    expect(viaV3.properties.email).toBe(`dated-${v}@example.com`);
    await hubspot.crm.objects.basicApi.update("contacts", created.id, { properties: { lastname: "ViaV3" } });
    const got = await call(200, Obj, "GET", `/crm/objects/${v}/contacts/${created.id}?properties=lastname`);
    expect(got.properties.lastname).toBe("ViaV3");
    await call(200, Obj, "PATCH", `/crm/objects/${v}/contacts/${created.id}`, { properties: { lastname: "Dated" } });
    await call(400, ErrorBody, "PATCH", `/crm/objects/${v}/contacts/${created.id}`, { properties: { no_such_property: "x" } });
    await call(204, null, "DELETE", `/crm/objects/${v}/contacts/${created.id}`);
    await call(404, ErrorBody, "GET", `/crm/objects/${v}/contacts/${created.id}`);

    const found = await call(200, O.CollectionResponseWithTotalSimplePublicObject, "POST", `/crm/objects/${v}/contacts/search`, {
      filterGroups: [{ filters: [{ propertyName: "lastmodifieddate", operator: "GTE", value: "0" }] }],
      sorts: [{ propertyName: "lastmodifieddate", direction: "ASCENDING" }],
      properties: ["email"],
      limit: 10,
      after: "0",
    });
    expect(found.total).toBeGreaterThan(10);
  });

  it("objects: batch read/create/update/upsert/archive; a partial batch is 207 on 2026-03 and 200 with errors on 2026-09", async () => {
    const ids = (await hubspot.crm.objects.basicApi.getPage("contacts", 3)).results.map((r) => r.id);
    const read = await call(200, BatchObj, "POST", `/crm/objects/${v}/contacts/batch/read`, { inputs: ids.map((id) => ({ id })), properties: ["email"] });
    expect(read.results.map((r: any) => r.id).sort()).toEqual([...ids].sort());
    const partial = await call(
      late ? 200 : 207,
      late ? D.BatchResponseSimplePublicObject2026_09 : O.BatchResponseSimplePublicObjectWithErrors,
      "POST",
      `/crm/objects/${v}/contacts/batch/read`,
      { inputs: [{ id: ids[0] }, { id: "999999999" }], properties: [] },
    );
    expect(partial.errors[0].category).toBe("OBJECT_NOT_FOUND");
    expect(partial.errors[0].context.ids).toEqual(["999999999"]);

    const created = await call(201, BatchObj, "POST", `/crm/objects/${v}/companies/batch/create`, {
      inputs: [{ properties: { name: `Dated ${v} A` } }, { properties: { name: `Dated ${v} B` } }],
    });
    const companyIds: string[] = created.results.map((r: any) => r.id);
    await call(200, BatchObj, "POST", `/crm/objects/${v}/companies/batch/update`, { inputs: companyIds.map((id) => ({ id, properties: { city: "Nantes" } })) });
    expect((await hubspot.crm.companies.basicApi.getById(companyIds[0]!, ["city"])).properties.city).toBe("Nantes");
    const upsert = await call(200, late ? D.BatchResponseSimplePublicUpsertObject2026_09 : O.BatchResponseSimplePublicUpsertObject, "POST", `/crm/objects/${v}/cars/batch/upsert`, {
      inputs: [{ id: `VINDATED${v}`, idProperty: "vin", properties: { model: "Golf" } }],
    });
    expect(upsert.results[0].new).toBe(true);
    await call(400, ErrorBody, "POST", `/crm/objects/${v}/contacts/batch/read`, { inputs: Array.from({ length: 101 }, (_, i) => ({ id: String(i + 1) })) });
    await call(204, null, "POST", `/crm/objects/${v}/companies/batch/archive`, { inputs: companyIds.map((id) => ({ id })) });
    await call(404, ErrorBody, "GET", `/crm/objects/${v}/companies/${companyIds[0]}`);
  });

  it("properties, owners, pipelines and schemas in the version's shapes", async () => {
    const props = await call(200, Pr.CollectionResponsePropertyNoPaging, "GET", `/crm/properties/${v}/contacts`);
    expect(props.results.some((p: any) => p.name === "email")).toBe(true);
    await call(200, Pr.Property, "GET", `/crm/properties/${v}/deals/dealstage`);
    await call(404, ErrorBody, "GET", `/crm/properties/${v}/deals/no_such_property`);
    await call(200, Pr.CollectionResponsePropertyGroupNoPaging, "GET", `/crm/properties/${v}/contacts/groups`);

    const owners = await call(200, W.CollectionResponsePublicOwnerForwardPaging, "GET", `/crm/owners/${v}?limit=5`);
    await call(200, W.PublicOwner, "GET", `/crm/owners/${v}/${owners.results[0].id}`);

    const pipelines = await call(200, D.CollectionResponsePipelineNoPaging, "GET", `/crm/pipelines/${v}/deals`);
    const pipeline = pipelines.results[0];
    await call(200, D.Pipeline, "GET", `/crm/pipelines/${v}/deals/${pipeline.id}`);
    await call(200, D.PipelineStage, "GET", `/crm/pipelines/${v}/deals/${pipeline.id}/stages/${pipeline.stages[0].id}`);

    const schemas = await call(200, D.CollectionResponseObjectSchemaNoPaging, "GET", `/crm-object-schemas/${v}/schemas`);
    expect(schemas.results.map((s: any) => s.name)).toContain("cars");
    await call(200, D.ObjectSchema, "GET", `/crm-object-schemas/${v}/schemas/cars`);
    await call(404, ErrorBody, "GET", `/crm-object-schemas/${v}/schemas/no_such_object`);
  });

  it("associations: batch create/read/archive, the record-level endpoints, labels", async () => {
    const contacts = (await hubspot.crm.objects.basicApi.getPage("contacts", 3)).results.map((r) => r.id);
    const companies = (await hubspot.crm.objects.basicApi.getPage("companies", 3)).results.map((r) => r.id);
    const [c1, c2] = contacts as [string, string];
    const [k1, k2] = companies as [string, string];
    await call(late ? 200 : 201, late ? D.BatchResponseLabelsBetweenObjectPair2026_09 : A.BatchResponseLabelsBetweenObjectPair, "POST", `/crm/associations/${v}/contact/company/batch/create`, {
      inputs: [{ from: { id: c1 }, to: { id: k1 }, types: [hs(1)] }],
    });
    const failed = await call(late ? 200 : 207, late ? D.BatchResponseLabelsBetweenObjectPair2026_09 : A.BatchResponseLabelsBetweenObjectPairWithErrors, "POST", `/crm/associations/${v}/contact/company/batch/create`, {
      inputs: [{ from: { id: "999999999" }, to: { id: k1 }, types: [hs(1)] }],
    });
    expect(failed.numErrors).toBe(1);
    const read = await call(200, late ? D.BatchResponsePublicAssociationMultiWithLabel2026_09 : A.BatchResponsePublicAssociationMultiWithLabel, "POST", `/crm/associations/${v}/contact/company/batch/read`, {
      inputs: [{ id: c1 }],
    });
    expect(read.results[0].to.map((t: any) => String(t.toObjectId))).toContain(k1);
    // The same association through v4.
    const v4 = await hubspot.crm.associations.v4.basicApi.getPage("contact", c1, "company");
    expect(v4.results.map((t) => String(t.toObjectId))).toContain(k1);

    await call(200, A.BatchResponsePublicDefaultAssociation, "POST", `/crm/associations/${v}/contact/company/batch/associate/default`, { inputs: [{ from: { id: c2 }, to: { id: k2 } }] });
    // v4 answers these two 204; every dated version answers 200 with an empty batch body.
    const labelsArchived = await call(200, D.BatchResponseVoid, "POST", `/crm/associations/${v}/contact/company/batch/labels/archive`, {
      inputs: [{ from: { id: c1 }, to: { id: k1 }, types: [hs(1)] }],
    });
    expect(labelsArchived.results).toEqual([]);
    await call(200, D.BatchResponseVoid, "POST", `/crm/associations/${v}/contact/company/batch/archive`, { inputs: [{ from: { id: c2 }, to: [{ id: k2 }] }] });
    expect((await hubspot.crm.associations.v4.basicApi.getPage("contact", c2, "company")).results.map((t) => String(t.toObjectId))).not.toContain(k2);

    await call(201, A.LabelsBetweenObjectPair, "PUT", `/crm/objects/${v}/contact/${c2}/associations/company/${k1}`, [hs(1)]);
    await call(200, A.BatchResponsePublicDefaultAssociation, "PUT", `/crm/objects/${v}/contact/${c2}/associations/default/company/${k2}`);
    if (late) {
      // 2026-09 has no record-level association list: readers use batch/read.
      await call(404, ErrorBody, "GET", `/crm/objects/${v}/contact/${c2}/associations/company`);
    } else {
      const page = await call(200, A.CollectionResponseMultiAssociatedObjectWithLabelForwardPaging, "GET", `/crm/objects/${v}/contact/${c2}/associations/company`);
      expect(page.results.map((t: any) => String(t.toObjectId)).sort()).toEqual([k1, k2].sort());
    }
    await call(204, null, "DELETE", `/crm/objects/${v}/contact/${c2}/associations/company/${k1}`);

    await call(200, A.CollectionResponseAssociationSpecWithLabelNoPaging, "GET", `/crm/associations/${v}/contact/company/labels`);
    const created = await call(200, A.CollectionResponseAssociationSpecWithLabelNoPaging, "POST", `/crm/associations/${v}/deal/contact/labels`, {
      label: `Champion ${v}`,
      name: `champion_${v.replace("-", "_")}`,
    });
    const typeId = created.results.find((r: any) => r.label === `Champion ${v}`).typeId;
    await call(204, null, "PUT", `/crm/associations/${v}/deal/contact/labels`, { associationTypeId: typeId, label: `Sponsor ${v}` });
    await call(204, null, "DELETE", `/crm/associations/${v}/deal/contact/labels/${typeId}`);
    await call(200, A.CollectionResponsePublicAssociationDefinitionUserConfigurationNoPaging, "GET", `/crm/associations/${v}/definitions/configurations/all`);
  });
});

describe("dated paths: versions, scopes and settings", () => {
  it("answers 404 for a version HubSpot never published", async () => {
    await call(404, ErrorBody, "GET", "/crm/objects/2024-01/contacts");
    await call(404, ErrorBody, "GET", "/crm/objects/v5/contacts");
  });

  it("a scope withheld on the legacy path is withheld on the dated one", async () => {
    try {
      await sim.control.configure({ missingScopes: [{ pathPrefix: "/crm/v3/objects/deals", scope: "crm.objects.deals.read" }] });
      const refused = await call(403, ErrorBody, "GET", "/crm/objects/2026-09/deals");
      expect(refused.category).toBe("MISSING_SCOPES");
      await call(200, O.CollectionResponseSimplePublicObjectWithAssociationsForwardPaging, "GET", "/crm/objects/2026-09/contacts");
    } finally {
      await sim.control.configure({ missingScopes: [] });
    }
  });

  it("multiStatus2026_09 brings back 207 for partial batches on 2026-09", async () => {
    try {
      await sim.control.configure({ multiStatus2026_09: true });
      const ids = (await hubspot.crm.objects.basicApi.getPage("contacts", 1)).results.map((r) => r.id);
      await call(207, D.BatchResponseSimplePublicObject2026_09, "POST", "/crm/objects/2026-09/contacts/batch/read", { inputs: [{ id: ids[0] }, { id: "999999999" }] });
    } finally {
      await sim.control.configure({ multiStatus2026_09: false });
    }
  });

  it("the request log names the dated endpoint that was called", async () => {
    const since = Date.now();
    await call(200, O.CollectionResponseSimplePublicObjectWithAssociationsForwardPaging, "GET", "/crm/objects/2026-09/contacts?limit=1");
    const logged = await sim.control.requests({ since });
    expect(logged.map((r) => r.endpoint)).toContain("GET /crm/objects/2026-09/{objectType}");
  });
});
