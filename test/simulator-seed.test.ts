import { describe, expect, it } from "vitest";
import { associationsOf } from "../src/simulator/associations.ts";
import { SEED_NOW, seedPortal } from "../src/simulator/seed.ts";
import { Store, type StoredRecord } from "../src/simulator/store.ts";

const MAIN_TYPES = ["companies", "contacts", "deals", "tickets", "products", "line_items", "calls", "emails", "meetings", "notes", "tasks", "cars"];

function seeded(size: number, seed: number) {
  const store = new Store();
  const summary = seedPortal(store, { size, seed });
  return { store, summary, assoc: associationsOf(store) };
}

function snapshot(store: Store): unknown {
  return store.objectTypes().map((t) => ({
    type: t.name,
    records: [...store.recordList(t, false), ...store.recordList(t, true)].map((r) => [r.id, r.createdAt, r.updatedAt, r.archived, r.properties]),
  }));
}

function records(store: Store, name: string, archived = false): readonly StoredRecord[] {
  return store.recordList(store.resolveType(name)!, archived);
}

describe("seedPortal", () => {
  const { store, summary, assoc } = seeded(3000, 7);
  const id = (name: string) => store.resolveType(name)!.objectTypeId;

  it("is deterministic for a seed and differs between seeds", () => {
    const again = seeded(3000, 7);
    expect(snapshot(again.store)).toEqual(snapshot(store));
    expect(again.assoc.list(id("contacts"), id("companies"))).toEqual(assoc.list(id("contacts"), id("companies")));
    expect(again.assoc.list(id("calls"), id("deals"))).toEqual(assoc.list(id("calls"), id("deals")));
    const other = seeded(3000, 8);
    expect(snapshot(other.store)).not.toEqual(snapshot(store));
  });

  it("honours the size with a realistic mix of object types", () => {
    const total = Object.values(summary.created).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(3000 * 0.95);
    expect(total).toBeLessThan(3000 * 1.05);
    for (const name of MAIN_TYPES) expect(summary.created[name], name).toBeGreaterThan(0);
    const perCompany = summary.created.contacts! / summary.created.companies!;
    expect(perCompany).toBeGreaterThanOrEqual(3);
    expect(perCompany).toBeLessThanOrEqual(4);
    const engagements = ["calls", "emails", "meetings", "notes", "tasks"].reduce((n, t) => n + summary.created[t]!, 0);
    expect(engagements).toBeGreaterThan(summary.created.contacts!);
    // Owners with teams (one deactivated), two deal pipelines, tickets' support pipeline.
    const owners = store.ownerList();
    expect(owners.length).toBe(10);
    expect(owners.filter((o) => o.archived)).toHaveLength(1);
    expect(owners.every((o) => o.teams.length > 0)).toBe(true);
    expect(store.pipelinesOf(store.resolveType("deals")!).map((p) => p.id)).toEqual(["default", "31826394"]);
    expect(store.pipelinesOf(store.resolveType("tickets")!).length).toBeGreaterThan(0);
  });

  it("defines a custom property of every type and fills it in HubSpot's value formats", () => {
    const formats: Record<string, RegExp> = {
      number: /^-?\d+(\.\d+)?$/,
      bool: /^(true|false)$/,
      date: /^\d{4}-\d{2}-\d{2}$/,
      datetime: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/,
    };
    for (const name of ["contacts", "companies", "deals"]) {
      const type = store.resolveType(name)!;
      const custom = store.propertyDefinitions(type).filter((p) => !p.hubspotDefined);
      const kinds = new Set(custom.map((p) => `${p.type}/${p.fieldType}`));
      for (const kind of [
        "string/text", "string/textarea", "number/number", "bool/booleancheckbox", "date/date", "datetime/date",
        "enumeration/select", "enumeration/radio", "enumeration/checkbox", "phone_number/phonenumber",
      ]) {
        expect(kinds.has(kind), `${name} ${kind}`).toBe(true);
      }
      const list = records(store, name);
      const valuesOf = (p: (typeof custom)[number]) => list.map((r) => r.properties[p.name]).filter((v): v is string => v !== undefined);
      for (const p of custom) expect(valuesOf(p).length, `${name}.${p.name} has values`).toBeGreaterThan(list.length / 2);
      for (const [type, format] of Object.entries(formats)) {
        const typed = custom.filter((p) => p.type === type);
        expect(typed.length, `${name}: a ${type} property`).toBeGreaterThan(0);
        for (const p of typed) for (const v of valuesOf(p)) expect(v, `${name}.${p.name}`).toMatch(format);
      }
      const enumerations = custom.filter((p) => p.type === "enumeration");
      expect(enumerations.length, `${name}: an enumeration`).toBeGreaterThan(0);
      for (const p of enumerations) {
        const allowed = new Set(p.options.map((o) => o.value));
        for (const v of valuesOf(p)) for (const part of v.split(";")) expect(allowed.has(part), `${name}.${p.name}=${v}`).toBe(true);
      }
    }
    const cars = store.resolveType("cars")!;
    expect(cars.custom).toBe(true);
    expect(store.property(cars, "vin")?.hasUniqueValue).toBe(true);
    const vins = records(store, "cars").map((r) => r.properties.vin);
    expect(new Set(vins).size).toBe(vins.length);
  });

  it("writes labelled associations in both directions", () => {
    const contactCompany = assoc.list(id("contacts"), id("companies"));
    const types = new Set(contactCompany.flatMap((a) => a.typeIds));
    expect(types.has(1)).toBe(true);
    expect(types.has(279)).toBe(true);
    expect(types.has(summary.billingContactTypeId)).toBe(true);
    expect(assoc.types.get(id("contacts"), id("companies"), summary.billingContactTypeId)).toMatchObject({ category: "USER_DEFINED", label: "Billing contact" });
    // Every labeled association also carries the unlabeled type; the inverse side mirrors it.
    for (const a of contactCompany) expect(a.typeIds).toContain(279);
    const back = assoc.list(id("companies"), id("contacts"));
    expect(back.length).toBe(contactCompany.length);
    expect(new Set(back.flatMap((a) => a.typeIds)).has(2)).toBe(true);
    // A contact's associatedcompanyid is its primary company.
    const contacts = new Map(records(store, "contacts").map((r) => [r.idNum, r]));
    for (const a of contactCompany.filter((x) => x.typeIds.includes(1))) {
      expect(contacts.get(a.fromId)?.properties.associatedcompanyid).toBe(String(a.toId));
    }
    // Calculated counters match the associations.
    const companyContacts = new Map<number, number>();
    for (const a of back) companyContacts.set(a.fromId, (companyContacts.get(a.fromId) ?? 0) + 1);
    for (const c of records(store, "companies").slice(0, 50)) {
      expect(c.properties.num_associated_contacts).toBe(String(companyContacts.get(c.idNum) ?? 0));
    }
    const parentChild = assoc.list(id("companies"), id("companies"));
    expect(parentChild.some((a) => a.typeIds.includes(13))).toBe(true);
    expect(parentChild.some((a) => a.typeIds.includes(14))).toBe(true);
    expect(assoc.list(id("deals"), id("companies")).some((a) => a.typeIds.includes(5))).toBe(true);
    // Each line item sits on one deal (those of archived deals are hidden with their deal).
    const onDeals = assoc.list(id("deals"), id("line_items")).map((a) => a.toId);
    expect(new Set(onDeals).size).toBe(onDeals.length);
    expect(onDeals.length).toBeGreaterThan(records(store, "line_items").length * 0.9);
    expect(assoc.list(id("tickets"), id("contacts")).length).toBeGreaterThan(0);
    for (const e of ["calls", "emails", "meetings", "notes", "tasks"]) {
      expect(assoc.list(id(e), id("contacts")).length, e).toBeGreaterThan(0);
      expect(assoc.list(id(e), id("companies")).length, e).toBeGreaterThan(0);
      expect(assoc.list(id(e), id("deals")).length, e).toBeGreaterThan(0);
    }
    expect(assoc.list(id("cars"), id("contacts")).length).toBeGreaterThan(records(store, "cars").length * 0.9);
  });

  it("has archived and merged records, and merges re-pointed associations", () => {
    for (const name of ["companies", "contacts", "deals", "tickets"]) {
      const archived = records(store, name, true);
      expect(archived.length, name).toBeGreaterThan(0);
      for (const r of archived) expect(r.archivedAt!).toBeGreaterThanOrEqual(r.updatedAt);
    }
    for (const name of ["contacts", "companies"]) {
      const state = store.typeState(name);
      expect(state.merged.size, name).toBeGreaterThan(0);
      for (const [loser, winner] of state.merged) {
        expect(store.getRecord(state.def, loser)).toBeUndefined();
        const w = store.getRecord(state.def, store.mergedInto(state.def, loser) ?? winner);
        expect(w?.properties.hs_merged_object_ids?.split(";")).toContain(loser);
      }
    }
    // No association points at a merged-away contact.
    const gone = new Set([...store.typeState("contacts").merged.keys()].map(Number));
    expect(assoc.list(id("companies"), id("contacts")).filter((a) => gone.has(a.toId))).toEqual([]);
  });

  it("spreads timestamps over the past, mostly distinct with some shared milliseconds", () => {
    const contacts = [...records(store, "contacts"), ...records(store, "contacts", true)];
    for (const r of contacts) {
      expect(r.createdAt).toBeLessThanOrEqual(r.updatedAt);
      expect(r.updatedAt).toBeLessThanOrEqual(SEED_NOW);
      expect(r.properties.createdate).toBe(new Date(r.createdAt).toISOString());
      expect(r.properties.lastmodifieddate).toBe(new Date(r.updatedAt).toISOString());
    }
    const span = Math.max(...contacts.map((r) => r.createdAt)) - Math.min(...contacts.map((r) => r.createdAt));
    expect(span).toBeGreaterThan(365 * 86_400_000);
    const modified = contacts.map((r) => r.updatedAt);
    const distinct = new Set(modified).size;
    expect(distinct).toBeGreaterThan(modified.length * 0.8);
    expect(distinct).toBeLessThan(modified.length);
  });

  it("seeds 100,000 records, and pages 1,000 companies' associations", () => {
    // How fast is the bench's concern (it seeds 100,000 records before measuring anything).
    const big = seeded(100_000, 1);
    const total = Object.values(big.summary.created).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(95_000);
    const companies = records(big.store, "companies").slice(0, 1000);
    let targets = 0;
    for (const c of companies) targets += big.assoc.page(id("companies"), c.idNum, id("contacts"), { limit: 500 }).results.length;
    expect(targets).toBeGreaterThan(2000);
  });
});
