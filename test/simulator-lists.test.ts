import type { Client } from "@hubspot/api-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { ErrorBody } from "./openapi/common.ts";
import * as L from "./openapi/lists.ts";
import { propertyFilter } from "./support/lists.ts";
import { testSimulator, type TestSimulator } from "./support/simulator.ts";

/**
 * The simulator's Lists API on the current dated version (`/crm/lists/2026-09/…`), reached through
 * @hubspot/api-client's apiRequest over HTTP, each answer checked against the spec's shape: create,
 * read, search and the id-ordered `all`, the membership calls on MANUAL lists (and their refusal on
 * DYNAMIC ones), memberships paged by record id and in join order, and a DYNAMIC list following its
 * filter as records change.
 */

let sim: TestSimulator;
let hubspot: Client;
const V = "/crm/lists/2026-09";

beforeAll(async () => {
  sim = await testSimulator();
  hubspot = sim.client();
});

afterAll(async () => {
  await sim?.close();
});

async function call<S extends z.ZodType>(status: number, schema: S | null, method: string, path: string, body?: unknown): Promise<z.infer<S>> {
  const res = await hubspot.apiRequest({ method, path, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  expect(res.status, `${method} ${path}: ${text.slice(0, 400)}`).toBe(status);
  if (schema === null) return undefined as z.infer<S>;
  return schema.parse(JSON.parse(text));
}

/** A call HubSpot refuses: its status and error body. */
async function refused(method: string, path: string, body?: unknown): Promise<{ status: number; body: z.infer<typeof ErrorBody> }> {
  const res = await hubspot.apiRequest({ method, path, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return { status: res.status, body: ErrorBody.parse(JSON.parse(text)) };
}

async function contact(email: string, props: Record<string, string> = {}): Promise<string> {
  const c = await hubspot.crm.contacts.basicApi.create({ properties: { email, ...props }, associations: [] });
  return c.id;
}

const eqFilter = (property: string, value: string) => propertyFilter(property, { operationType: "STRING", operator: "IS_EQUAL_TO", value });

describe("lists", () => {
  it("creates, reads, finds by name, searches and pages every list in id order", async () => {
    const a = await call(200, L.ListCreateResponse, "POST", V, { name: "Sim A", objectTypeId: "0-1", processingType: "MANUAL" });
    const b = await call(200, L.ListCreateResponse, "POST", V, { name: "Sim B", objectTypeId: "0-1", processingType: "DYNAMIC", filterBranch: eqFilter("lifecyclestage", "lead") });
    expect(a.list.processingType).toBe("MANUAL");
    expect(a.list.size).toBe(0);
    expect((await refused("POST", V, { name: "sim a", objectTypeId: "0-1", processingType: "MANUAL" })).status).toBe(400);

    const got = await call(200, L.ListFetchResponse, "GET", `${V}/${b.list.listId}?includeFilters=true`);
    expect(got.list.filterBranch).toMatchObject({ filterBranchType: "OR" });
    const byIds = await call(200, L.ListsByIdResponse, "GET", `${V}?listIds=${a.list.listId}&listIds=${b.list.listId}`);
    expect(byIds.lists.map((l) => l.name)).toEqual(["Sim A", "Sim B"]);
    const byName = await call(200, L.ListFetchResponse, "GET", `${V}/object-type-id/0-1/name/SIM%20B`);
    expect(byName.list.listId).toBe(b.list.listId);

    const search = await call(200, L.ListSearchResponse, "POST", `${V}/search`, { query: "sim", offset: 0, count: 1, processingTypes: [], listIds: [], additionalProperties: [] });
    expect(search).toMatchObject({ hasMore: true, offset: 1, total: 2 });
    expect(search.lists[0]!.additionalProperties.hs_list_size).toBe("0");

    const first = await call(200, L.ApiCollectionResponsePublicObjectListSearchResult, "POST", `${V}/all`, { processingTypes: [], additionalProperties: [], count: 1 });
    expect(first.results.map((l) => l.listId)).toEqual([a.list.listId]);
    const second = await call(200, L.ApiCollectionResponsePublicObjectListSearchResult, "POST", `${V}/all`, { processingTypes: [], additionalProperties: [], count: 1, after: first.paging!.next!.after });
    expect(second.results.map((l) => l.listId)).toEqual([b.list.listId]);
    // /all is new in 2026-09
    expect((await refused("POST", "/crm/lists/2026-03/all", { processingTypes: [], additionalProperties: [] })).status).toBeGreaterThanOrEqual(400);

    await call(204, null, "DELETE", `${V}/${a.list.listId}`);
    const gone = await call(200, L.ListsByIdResponse, "GET", `${V}?listIds=${a.list.listId}`);
    expect(gone.lists[0]!.deletedAt).toBeDefined();
    await call(204, null, "PUT", `${V}/${a.list.listId}/restore`);
    await call(200, L.ListFetchResponse, "GET", `${V}/${a.list.listId}`);
  });

  it("adds and removes members of a MANUAL list, reports missing ids, and pages members by id and by join order", async () => {
    const { list } = await call(200, L.ListCreateResponse, "POST", V, { name: "Members", objectTypeId: "0-1", processingType: "MANUAL" });
    const ids = [await contact("m1@x.test"), await contact("m2@x.test"), await contact("m3@x.test")];
    const added = await call(200, L.MembershipsUpdateResponse, "PUT", `${V}/${list.listId}/memberships/add`, [ids[2], ids[0], "999999"]);
    expect(added).toEqual({ recordsIdsAdded: [ids[2], ids[0]], recordIdsRemoved: [], recordIdsMissing: ["999999"] });
    // adding a member again changes nothing, its join time stays
    const before = await call(200, L.ApiCollectionResponseJoinTimeAndRecordId, "GET", `${V}/${list.listId}/memberships/join-order`);
    await new Promise((r) => setTimeout(r, 5));
    const again = await call(200, L.MembershipsUpdateResponse, "PUT", `${V}/${list.listId}/memberships/add-and-remove`, { recordIdsToAdd: [ids[0], ids[1]], recordIdsToRemove: [] });
    expect(again.recordsIdsAdded).toEqual([ids[1]]);

    // the first two joined in one call (one join time, then record id order), the third later
    const byJoin = await call(200, L.ApiCollectionResponseJoinTimeAndRecordId, "GET", `${V}/${list.listId}/memberships/join-order?limit=2`);
    expect(byJoin.results.map((r) => r.recordId)).toEqual([ids[0], ids[2]]);
    expect(byJoin.results[0]!.membershipTimestamp).toBe(before.results[0]!.membershipTimestamp);
    const rest = await call(200, L.ApiCollectionResponseJoinTimeAndRecordId, "GET", `${V}/${list.listId}/memberships/join-order?limit=2&after=${byJoin.paging!.next!.after}`);
    expect(rest.results.map((r) => r.recordId)).toEqual([ids[1]]);
    expect(rest.paging?.next).toBeUndefined();
    const byId = await call(200, L.ApiCollectionResponseJoinTimeAndRecordId, "GET", `${V}/${list.listId}/memberships`);
    expect(byId.results.map((r) => r.recordId)).toEqual([...ids].sort((x, y) => Number(x) - Number(y)));
    expect((await refused("GET", `${V}/${list.listId}/memberships?limit=251`)).status).toBe(400);

    const removed = await call(200, L.MembershipsUpdateResponse, "PUT", `${V}/${list.listId}/memberships/remove`, [ids[2]]);
    expect(removed.recordIdsRemoved).toEqual([ids[2]]);
    const size = await call(200, L.ListFetchResponse, "GET", `${V}/${list.listId}`);
    expect(size.list.size).toBe(2);
  });

  it("keeps a DYNAMIC list equal to its filter as records change, and refuses membership calls on it", async () => {
    const lead = await contact("lead1@x.test", { lifecyclestage: "lead" });
    const other = await contact("cust1@x.test", { lifecyclestage: "customer" });
    const { list } = await call(200, L.ListCreateResponse, "POST", V, { name: "Leads", objectTypeId: "0-1", processingType: "DYNAMIC", filterBranch: eqFilter("lifecyclestage", "lead") });
    const members = async () => (await call(200, L.ApiCollectionResponseJoinTimeAndRecordId, "GET", `${V}/${list.listId}/memberships`)).results.map((r) => r.recordId);
    expect(await members()).toContain(lead);
    expect(await members()).not.toContain(other);

    await hubspot.crm.contacts.basicApi.update(other, { properties: { lifecyclestage: "lead" } });
    await hubspot.crm.contacts.basicApi.update(lead, { properties: { lifecyclestage: "customer" } });
    expect(await members()).toContain(other);
    expect(await members()).not.toContain(lead);
    const search = await call(200, L.ListSearchResponse, "POST", `${V}/search`, { query: "Leads", offset: 0, processingTypes: ["DYNAMIC"], listIds: [], additionalProperties: [] });
    expect(Number(search.lists[0]!.additionalProperties.hs_last_record_removed_at)).toBeGreaterThan(0);

    await hubspot.crm.contacts.basicApi.archive(other);
    expect(await members()).not.toContain(other);

    const no = await refused("PUT", `${V}/${list.listId}/memberships/add`, [lead]);
    expect(no.status).toBe(400);
    expect(no.body.message).toMatch(/DYNAMIC/);
  });
});
