import { describe, expect, it } from "vitest";
import { AssociationStore, type AssociationRecordView } from "../src/simulator/associations.ts";

/** A record view over plain sets: the store under test only asks whether records exist / are archived. */
function records() {
  const live = new Set<string>();
  const archived = new Set<string>();
  const view: AssociationRecordView = {
    exists: (t, id) => live.has(`${t}:${id}`) || archived.has(`${t}:${id}`),
    isArchived: (t, id) => archived.has(`${t}:${id}`),
  };
  const add = (t: string, ...ids: number[]) => ids.forEach((id) => live.add(`${t}:${id}`));
  const archive = (t: string, id: number) => {
    live.delete(`${t}:${id}`);
    archived.add(`${t}:${id}`);
  };
  return { view, add, archive };
}

const CONTACT = "0-1";
const COMPANY = "0-2";

describe("association store", () => {
  it("is symmetric with inverse type ids and always keeps the unlabeled type", () => {
    const r = records();
    r.add(CONTACT, 1);
    r.add(COMPANY, 10);
    const store = new AssociationStore(r.view);
    store.set(CONTACT, 1, COMPANY, 10, [1]);
    expect(store.typeIdsBetween(CONTACT, 1, COMPANY, 10)).toEqual([1, 279]);
    expect(store.typeIdsBetween(COMPANY, 10, CONTACT, 1)).toEqual([2, 280]);
    const page = store.page(COMPANY, 10, CONTACT, { limit: 10 });
    expect(page.results[0]!.types.map((t) => t.label)).toEqual(["Primary", null]);
  });

  it("moves a primary label away from the source's other targets", () => {
    const r = records();
    r.add(CONTACT, 1);
    r.add(COMPANY, 10, 11);
    const store = new AssociationStore(r.view);
    store.set(CONTACT, 1, COMPANY, 10, [1]);
    store.set(CONTACT, 1, COMPANY, 11, [1]);
    expect(store.typeIdsBetween(CONTACT, 1, COMPANY, 10)).toEqual([279]);
    expect(store.typeIdsBetween(CONTACT, 1, COMPANY, 11)).toEqual([1, 279]);
  });

  it("pages per source id in target-id order and hides archived records", () => {
    const r = records();
    r.add(COMPANY, 10);
    const ids = Array.from({ length: 25 }, (_, i) => 100 + i);
    r.add(CONTACT, ...ids);
    const store = new AssociationStore(r.view);
    for (const id of [...ids].reverse()) store.add(COMPANY, 10, CONTACT, id);
    r.archive(CONTACT, 105);
    const first = store.page(COMPANY, 10, CONTACT, { limit: 10 });
    expect(first.results.map((t) => t.toObjectId)).toEqual([100, 101, 102, 103, 104, 106, 107, 108, 109, 110]);
    const second = store.page(COMPANY, 10, CONTACT, { limit: 10, after: first.after });
    const third = store.page(COMPANY, 10, CONTACT, { limit: 10, after: second.after });
    expect(third.results).toHaveLength(4);
    expect(third.after).toBeUndefined();
    r.archive(COMPANY, 10);
    expect(store.page(COMPANY, 10, CONTACT, { limit: 10 }).results).toEqual([]);
  });

  it("re-points a merged record's associations to the winner", () => {
    const r = records();
    r.add(CONTACT, 1, 2);
    r.add(COMPANY, 10, 11);
    const store = new AssociationStore(r.view);
    store.set(CONTACT, 1, COMPANY, 10, [1]);
    store.set(CONTACT, 2, COMPANY, 11, [1]);
    store.add(CONTACT, 2, CONTACT, 1);
    store.merge(CONTACT, 1, 2);
    expect(store.typeIdsBetween(CONTACT, 1, COMPANY, 11)).toEqual([279]);
    expect(store.typeIdsBetween(COMPANY, 11, CONTACT, 2)).toEqual([]);
    expect(store.typeIdsBetween(COMPANY, 11, CONTACT, 1)).toEqual([280]);
    expect(store.typeIdsBetween(CONTACT, 1, CONTACT, 2)).toEqual([]);
  });

  it("labels: user-defined in both directions, removing the unlabeled type removes everything", () => {
    const r = records();
    r.add(CONTACT, 1);
    r.add(COMPANY, 10);
    const store = new AssociationStore(r.view, { firstUserDefinedTypeId: 500 });
    const [billing, inverse] = store.types.createLabel(CONTACT, COMPANY, { label: "Billing contact", name: "billing_contact", inverseLabel: "Billed company" });
    expect(billing!.typeId).toBeGreaterThanOrEqual(500);
    expect(inverse!.label).toBe("Billed company");
    store.set(CONTACT, 1, COMPANY, 10, [billing!.typeId]);
    expect(store.typeIdsBetween(COMPANY, 10, CONTACT, 1)).toEqual([280, inverse!.typeId]);
    store.removeTypes(CONTACT, 1, COMPANY, 10, [billing!.typeId]);
    expect(store.typeIdsBetween(CONTACT, 1, COMPANY, 10)).toEqual([279]);
    store.removeTypes(CONTACT, 1, COMPANY, 10, [279]);
    expect(store.typeIdsBetween(COMPANY, 10, CONTACT, 1)).toEqual([]);
  });
});
