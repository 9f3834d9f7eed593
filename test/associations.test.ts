import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleAll, cycleObject } from "../src/core/pull/cycle.ts";
import { loadPairs, type AssociationPair } from "../src/core/associations/pairs.ts";
import { refreshAssociationsFor, refreshChangedAssociations } from "../src/core/associations/refresh.ts";
import { sweepAssociations } from "../src/core/associations/sweep.ts";
import { syncPair } from "../src/core/associations/sync.ts";
import { byKey, expectedRows, tableRows } from "./support/associations.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker, enableSync } from "./support/worker.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;
let billingTypeId: number;

const TYPES = ["companies", "contacts", "deals", "line_items", "tickets", "cars"];
const SEED_SIZE = 2000;

const expected = (pair: AssociationPair) => expectedRows(sim, pair);
const actual = (pair: AssociationPair) => tableRows(db.pool, pair);

async function pairNamed(table: string): Promise<AssociationPair> {
  const p = (await loadPairs(worker.pool)).find((x) => x.table === table);
  if (!p) throw new Error(`no pair ${table}`);
  return p;
}

async function batchReads(): Promise<number> {
  const c = await sim.control.counters();
  return Object.entries(c.byEndpoint)
    .filter(([k]) => k.includes("/crm/v4/associations") || k.includes("/crm/associations"))
    .reduce((n, [, v]) => n + v, 0);
}

beforeAll(async () => {
  db = await installedDatabase("assoc");
  sim = await startSimulator({ rateLimits: false, seed: { size: SEED_SIZE, seed: 7 } });
  worker = connectWorker(db.url, sim);
  for (const t of TYPES) await enableSync(worker.pool, t);
  const cycles = await cycleAll(worker, TYPES, { archived: false });
  for (const c of cycles) expect(c.error, c.objectType).toBeUndefined();
  const labels = await sim.control.listAssociations("contacts", "companies");
  billingTypeId = labels.flatMap((l) => l.types).find((t) => t.label === "Billing contact")!.typeId;
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

describe("association tables — one story, in order: later tests build on what earlier ones left", () => {
  it("backfill: one table per pair of enabled types, named in alphabetical order, equal to HubSpot's associations", async () => {
    await sim.control.resetCounters();
    const started = Date.now();
    const outcomes = await sweepAssociations(worker, { kind: "backfill" });
    const ms = Date.now() - started;
    const tables = outcomes.map((o) => o.table).sort();
    expect(tables).toEqual(
      expect.arrayContaining([
        "associations_car_contact",
        "associations_company_company",
        "associations_company_contact",
        "associations_company_deal",
        "associations_contact_contact",
        "associations_contact_deal",
        "associations_contact_ticket",
        "associations_deal_line_item",
        "associations_deal_deal",
      ]),
    );
    // 6 types: 15 pairs + same-type tables for companies, contacts, deals, tickets.
    expect(tables).toHaveLength(19);
    const { rows: reverse } = await db.pool.query(
      `select tablename from pg_tables where schemaname = 'hubspot' and tablename in ('associations_contact_company', 'associations_deal_contact', 'associations_line_item_deal', 'associations_contact_car')`,
    );
    expect(reverse).toEqual([]);

    let associations = 0;
    for (const table of tables) {
      const pair = await pairNamed(table);
      const want = await expected(pair);
      expect(await actual(pair), table).toEqual(want);
      associations += want.length;
    }
    const calls = await batchReads();
    const company = await actual(await pairNamed("associations_company_contact"));
    expect(company.some((r) => r.labels.includes("Primary"))).toBe(true);
    expect(company.some((r) => r.labels.includes("Billing contact"))).toBe(true);
    // the backfills' list pages embedded most pairs; a sweep reads each whole, from its smaller end
    await sweepAssociations(worker, { restMs: 0 });
    const { rows: sides } = await db.pool.query(`select table_name, read_side from hubsync.association_pairs where table_name in ('associations_contact_deal', 'associations_company_contact')`);
    // contacts outnumber deals and companies: both pairs are read from the smaller end
    expect(Object.fromEntries(sides.map((s) => [s.table_name, s.read_side]))).toEqual({ associations_contact_deal: "b", associations_company_contact: "a" });
    console.log(
      `[associations] backfill: ${associations} associations in ${tables.length} tables, ${calls} API calls (${(calls / associations).toFixed(4)} per association), ${ms} ms`,
    );
  }, 60_000);

  it("the read end does not matter: read from the larger end (translated type ids), the table is the same", async () => {
    for (const table of ["associations_company_contact", "associations_contact_deal", "associations_deal_line_item"]) {
      const pair = await pairNamed(table);
      for (const side of ["a", "b"] as const) {
        const r = await syncPair(worker, pair, { side });
        expect(r.inserted + r.updated + r.deleted, `${table} from ${side}`).toBe(0);
      }
      expect(await actual(pair)).toEqual(await expected(pair));
    }
  });

  it("an association added, relabelled and removed in HubSpot (neither record changes) shows after the next sweep", async () => {
    const pair = await pairNamed("associations_company_contact");
    const { rows } = await db.pool.query<{ contact: string; company: string; contact_updated: Date }>(
      `select c.id as contact, co.id as company, c.updated_at as contact_updated from hubspot.contacts c, hubspot.companies co
        where not exists (select 1 from hubspot.associations_company_contact x where x.contact_id = c.id and x.company_id = co.id)
        order by c.id, co.id limit 1`,
    );
    const { contact, company } = rows[0]!;
    const row = async () => (await db.pool.query(`select labels, type_ids from hubspot.associations_company_contact where company_id = $1 and contact_id = $2`, [company, contact])).rows[0];
    const contactBefore = await sim.control.getRecord("contacts", contact);

    await sim.control.associate("contacts", contact, "companies", company);
    const sweep = async () => {
      await sim.control.resetCounters();
      await sweepAssociations(worker, { objectType: "contacts" });
      return batchReads();
    };
    let calls = await sweep();
    expect(await row()).toEqual({ labels: [], type_ids: [280] });

    await sim.control.setAssociationLabels("contacts", contact, "companies", company, [279, billingTypeId]);
    await sweep();
    const labelled = await row();
    expect(labelled.labels).toEqual(["Billing contact"]);
    expect(labelled.type_ids).toHaveLength(2);
    expect(labelled.type_ids).toContain(280);

    await sim.control.unassociate("contacts", contact, "companies", company);
    calls = await sweep();
    expect(await row()).toBeUndefined();
    // the record itself never changed: an incremental pull would not have seen any of this
    expect((await sim.control.getRecord("contacts", contact))!.updatedAt).toBe(contactBefore!.updatedAt);
    expect(await actual(pair)).toEqual(await expected(pair));

    const { rows: status } = await db.pool.query(
      `select object_type, rows, phase, last_pull_at is not null as swept from hubsync.status where object_type = 'associations_company_contact'`,
    );
    expect(status).toEqual([{ object_type: "associations_company_contact", rows: expect.any(String), phase: "live", swept: true }]);
    const { rows: local } = await db.pool.query(`select count(*)::int as n from hubspot.contacts`);
    console.log(`[associations] sweep of the ${await countPairs("contacts")} pairs with contacts (${local[0].n} contacts): ${calls} API calls`);
  });

  it("a label with a different inverse name: a→b labels in the table, whichever end is read (inverse ids learned, or read from a when they cannot be)", async () => {
    // a contact→ticket label (and its inverse) created through HubSpot's labels API: its contact→ticket id
    const createLabel = async (label: string, inverseLabel: string) => {
      const created = (await worker.hubspot.request("general", {
        method: "POST",
        path: worker.hubspot.paths.associations.labels("contacts", "tickets"),
        body: { label, name: label.toLowerCase(), inverseLabel },
      })) as { results: Array<{ label: string | null; typeId: number }> };
      return created.results.find((r) => r.label === label)!.typeId;
    };
    const reporter = await createLabel("Reporter", "Reported by");
    const edges = await sim.control.listAssociations("contacts", "tickets");
    expect(edges.length).toBeGreaterThan(10);
    for (const e of edges) await sim.control.setAssociationLabels("contacts", e.fromId, "tickets", e.toId, [15, reporter]);
    const pair = await pairNamed("associations_contact_ticket");
    const check = async () => {
      const rows = await actual(pair);
      expect(rows).toEqual(await expected(pair));
      expect(rows).toHaveLength(edges.length);
      expect(rows.every((r) => r.labels.length === 1 && r.labels[0] === "Reporter" && r.type_ids.includes(15) && r.type_ids.includes(reporter))).toBe(true);
    };
    // tickets are fewer: read from b; 16 ↔ 15 is known from the backfill, the new id follows by elimination
    await sweepAssociations(worker, { objectType: "tickets" });
    await check();
    expect((await db.pool.query(`select read_side from hubsync.association_pairs where table_name = $1`, [pair.table])).rows[0].read_side).toBe("b");
    // nothing learned and every edge carries the same two labels: no way to tell which inverse is
    // which (HubSpot's own 16 ↔ 15 is known) → read from a
    const watcher = await createLabel("Watcher", "Watched by");
    for (const e of edges) await sim.control.setAssociationLabels("contacts", e.fromId, "tickets", e.toId, [15, reporter, watcher]);
    await db.pool.query(`update hubsync.association_pairs set type_map = '{}' where table_name = $1`, [pair.table]);
    await db.pool.query(`update hubspot.associations_contact_ticket set labels = '{}'`);
    await sweepAssociations(worker, { objectType: "tickets" });
    const rows = await actual(pair);
    expect(rows).toEqual(await expected(pair));
    expect(rows.every((r) => r.labels.join() === "Reporter,Watcher" && r.type_ids.includes(reporter) && r.type_ids.includes(watcher))).toBe(true);
    expect((await db.pool.query(`select read_side from hubsync.association_pairs where table_name = $1`, [pair.table])).rows[0].read_side).toBe("a");
  });

  it("an empty pair rests between hourly reads; its first association then shows in both directions of a same-type table", async () => {
    const pair = await pairNamed("associations_contact_contact");
    expect(await actual(pair)).toEqual([]);
    const { rows } = await db.pool.query<{ id: string }>(`select id from hubspot.contacts order by id limit 2`);
    const [x, y] = rows.map((r) => r.id) as [string, string];
    await sim.control.associate("contacts", x, "contacts", y);
    await sim.control.resetCounters();
    await sweepAssociations(worker, { objectType: "contacts" });
    expect((await sim.control.requests()).filter((r) => r.path.includes("/0-1/0-1/"))).toEqual([]);
    expect(await actual(pair)).toEqual([]);
    await sweepAssociations(worker, { objectType: "contacts", restMs: 0 });
    expect(await actual(pair)).toEqual([
      { a: x, b: y, labels: [], type_ids: [449] },
      { a: y, b: x, labels: [], type_ids: [449] },
    ].sort(byKey));
    expect(await actual(pair)).toEqual(await expected(pair));
  });

  it("parent/child companies: refreshing the parent alone keeps both directions right", async () => {
    const pair = await pairNamed("associations_company_company");
    const { rows } = await db.pool.query<{ id: string }>(
      `select id from hubspot.companies co where not exists (select 1 from hubspot.associations_company_company x where x.from_company_id = co.id) order by id limit 2`,
    );
    const [parent, child] = rows.map((r) => r.id) as [string, string];
    const mine = async () => (await actual(pair)).filter((r) => [parent, child].includes(r.a));
    await sim.control.associate("companies", parent, "companies", child, [13]);
    await refreshAssociationsFor(worker, "companies", [parent]);
    expect(await mine()).toEqual((await expected(pair)).filter((r) => [parent, child].includes(r.a)));
    expect((await mine()).map((r) => `${r.a}>${r.b}:${r.labels}`).sort()).toEqual([`${child}>${parent}:Parent Company`, `${parent}>${child}:Child Company`].sort());
    await sim.control.unassociate("companies", parent, "companies", child);
    await refreshAssociationsFor(worker, "companies", [parent]);
    expect(await mine()).toEqual([]);
  });

  it("a merge re-points the merged-away record's rows to the surviving record", async () => {
    const { rows } = await db.pool.query<{ loser: string; winner: string }>(
      `select l.contact_id as loser, w.id as winner
         from hubspot.associations_company_contact l, hubspot.contacts w
        where w.id <> l.contact_id
          and not exists (select 1 from hubspot.associations_company_contact x where x.contact_id = w.id)
          and not exists (select 1 from hubspot.associations_contact_deal x where x.contact_id = w.id)
        order by l.contact_id, w.id limit 1`,
    );
    const { loser, winner } = rows[0]!;
    const before = (await db.pool.query(`select company_id from hubspot.associations_company_contact where contact_id = $1 order by 1`, [loser])).rows;
    expect(before.length).toBeGreaterThan(0);
    const merged = await sim.control.mergeRecords("contacts", winner, loser);
    // the pull sees the new record (hs_merged_object_ids): hubsync.merges → rows re-pointed, no sweep needed
    const c = await cycleObject(worker, "contacts", { archived: false });
    expect(c.error).toBeUndefined();
    expect((await db.pool.query(`select winner_id from hubsync.merges where merged_id = $1`, [loser])).rows).toEqual([{ winner_id: merged.id }]);
    expect((await db.pool.query(`select count(*)::int as n from hubspot.associations_company_contact where contact_id = $1`, [loser])).rows[0].n).toBe(0);
    expect((await db.pool.query(`select company_id from hubspot.associations_company_contact where contact_id = $1 order by 1`, [merged.id])).rows).toEqual(before);
    await sweepAssociations(worker, { objectType: "contacts" });
    for (const t of ["associations_company_contact", "associations_contact_deal", "associations_contact_contact"]) {
      const pair = await pairNamed(t);
      expect(await actual(pair), t).toEqual(await expected(pair));
    }
  });

  it("rows of an archived record go when the pull removes the record", async () => {
    const { rows } = await db.pool.query<{ id: string }>(`select deal_id as id from hubspot.associations_deal_line_item order by 1 limit 1`);
    const deal = rows[0]!.id;
    await sim.control.archiveRecord("deals", deal);
    const c = await cycleObject(worker, "deals", { archived: true });
    expect(c.error).toBeUndefined();
    expect((await db.pool.query(`select count(*)::int as n from hubspot.deals where id = $1`, [deal])).rows[0].n).toBe(0);
    for (const t of ["associations_deal_line_item", "associations_company_deal", "associations_contact_deal", "associations_deal_deal"]) {
      const pair = await pairNamed(t);
      const col = pair.sameType ? [pair.aColumn, pair.bColumn] : [pair.a.objectType === "deals" ? pair.aColumn : pair.bColumn];
      const { rows: left } = await db.pool.query(`select count(*)::int as n from hubspot."${t}" where ${col.map((x) => `"${x}" = $1`).join(" or ")}`, [deal]);
      expect(left[0].n, t).toBe(0);
      expect(await actual(pair), t).toEqual(await expected(pair));
    }
    // no unassociate went to the outbox for them (HubSpot dropped them itself)
    expect((await db.pool.query(`select count(*)::int as n from hubsync.outbox`)).rows[0].n).toBe(0);
  });

  it("with on_archive = 'mark' the archived record's row stays and its association rows go", async () => {
    await db.pool.query(`update hubsync.objects set on_archive = 'mark' where object_type = 'tickets'`);
    const { rows } = await db.pool.query<{ id: string }>(`select ticket_id as id from hubspot.associations_contact_ticket order by 1 limit 1`);
    const ticket = rows[0]!.id;
    await sim.control.archiveRecord("tickets", ticket);
    const c = await cycleObject(worker, "tickets", { archived: true });
    expect(c.error).toBeUndefined();
    expect((await db.pool.query(`select archived_at is not null as archived from hubspot.tickets where id = $1`, [ticket])).rows).toEqual([{ archived: true }]);
    for (const t of ["associations_contact_ticket", "associations_company_ticket", "associations_ticket_ticket"]) {
      const pair = await pairNamed(t);
      expect(await actual(pair), t).toEqual(await expected(pair));
    }
    await sweepAssociations(worker, { objectType: "tickets" });
    const pair = await pairNamed("associations_contact_ticket");
    expect(await actual(pair)).toEqual(await expected(pair));
  });

  it("a row a user inserted locally (write-back) is not undone by a sweep before the push sends it", async () => {
    await db.pool.query(`update hubsync.objects set write_back = true where object_type = 'deals'`);
    await db.pool.query(`select hubsync._refresh_write_back('deals')`);
    const { rows } = await db.pool.query<{ deal: string; item: string }>(
      `select d.id as deal, li.id as item from hubspot.deals d, hubspot.line_items li
        where not exists (select 1 from hubspot.associations_deal_line_item x where x.deal_id = d.id and x.line_item_id = li.id)
        order by 1, 2 limit 1`,
    );
    const { deal, item } = rows[0]!;
    await db.pool.query(`insert into hubspot.associations_deal_line_item (deal_id, line_item_id) values ($1, $2)`, [deal, item]);
    expect((await db.pool.query(`select count(*)::int as n from hubsync.outbox where op = 'associate' and status = 'pending'`)).rows[0].n).toBe(1);
    await sweepAssociations(worker, { objectType: "deals" });
    expect((await db.pool.query(`select count(*)::int as n from hubspot.associations_deal_line_item where deal_id = $1 and line_item_id = $2`, [deal, item])).rows[0].n).toBe(1);
    // and the sweep's own writes went to no outbox
    expect((await db.pool.query(`select count(*)::int as n from hubsync.outbox`)).rows[0].n).toBe(1);
    await db.pool.query(`delete from hubsync.outbox`);
    await db.pool.query(`update hubsync.objects set write_back = false where object_type = 'deals'`);
    await db.pool.query(`select hubsync._refresh_write_back('deals')`);
    await sweepAssociations(worker, { objectType: "deals" });
  });

  it("a record created with associations since the last pull has them after the pull's refresh, before any sweep", async () => {
    const { rows } = await db.pool.query<{ id: string }>(`select id from hubspot.companies order by id limit 1`);
    const company = rows[0]!.id;
    const created = await sim.control.createRecord("contacts", { email: "new.person@example.com", firstname: "New" });
    await sim.control.associate("contacts", created.id, "companies", company, [279, 1]);
    const c = await cycleObject(worker, "contacts", { archived: false });
    expect(c.error).toBeUndefined();
    await sim.control.resetCounters();
    expect(await refreshChangedAssociations(worker, "contacts")).toBeGreaterThan(0);
    expect((await db.pool.query(`select labels, type_ids from hubspot.associations_company_contact where contact_id = $1`, [created.id])).rows).toEqual([
      { labels: ["Primary"], type_ids: [2, 280] },
    ]);
  });

  it("refreshing one new contact from the contact end, with nothing learned yet about inverse type ids, still gives a→b ids", async () => {
    await db.pool.query(`update hubsync.association_pairs set type_map = '{}' where table_name = 'associations_company_contact'`);
    const { rows } = await db.pool.query<{ id: string }>(`select id from hubspot.companies order by id offset 3 limit 1`);
    const company = rows[0]!.id;
    const created = await sim.control.createRecord("contacts", { email: "another.person@example.com" });
    await sim.control.associate("contacts", created.id, "companies", company, [279, 1, billingTypeId]);
    expect((await cycleObject(worker, "contacts", { archived: false })).error).toBeUndefined();
    await refreshAssociationsFor(worker, "contacts", [created.id]);
    const { rows: got } = await db.pool.query(`select company_id, labels, type_ids from hubspot.associations_company_contact where contact_id = $1`, [created.id]);
    const want = (await expected(await pairNamed("associations_company_contact"))).filter((r) => r.b === created.id);
    expect(got.map((r) => ({ a: r.company_id, b: created.id, labels: [...r.labels].sort(), type_ids: r.type_ids }))).toEqual(want);
    expect(want[0]!.labels).toEqual(["Billing contact", "Primary"]);
    const { rows: map } = await db.pool.query(`select type_map from hubsync.association_pairs where table_name = 'associations_company_contact'`);
    expect(Object.keys(map[0].type_map).length).toBeGreaterThanOrEqual(3);
  });

  it("a record with more associations than one page (500) gets them all, with per-id paging inside the batch reads", async () => {
    const { rows } = await db.pool.query<{ id: string }>(`select id from hubspot.companies order by id desc limit 1`);
    const company = rows[0]!.id;
    const contacts = (await db.pool.query<{ id: string }>(`select id from hubspot.contacts order by id`)).rows.map((r) => r.id);
    expect(contacts.length).toBeGreaterThan(500);
    for (let i = 0; i < contacts.length; i += 50) {
      await Promise.all(contacts.slice(i, i + 50).map((c) => sim.control.associate("companies", company, "contacts", c)));
    }
    await sim.control.resetCounters();
    await sweepAssociations(worker, { objectType: "companies" });
    const { rows: n } = await db.pool.query(`select count(*)::int as n from hubspot.associations_company_contact where company_id = $1`, [company]);
    expect(n[0].n).toBe(contacts.length);
    // a first read of 40 companies (what it finds per company sizes the next), one for the other
    // companies, then one more for the one company's second page
    const companies = Number((await db.pool.query(`select count(*) as n from hubspot.companies where archived_at is null`)).rows[0].n);
    expect(companies).toBeGreaterThan(40);
    const reads = (await sim.control.requests()).filter((r) => r.method === "POST" && r.path.includes("/crm/associations/2026-09/0-2/0-1/batch/read"));
    expect(reads).toHaveLength(3);
    const pair = await pairNamed("associations_company_contact");
    expect(await actual(pair)).toEqual(await expected(pair));
  });

  it("a pair HubSpot refuses to read (4xx) is recorded on its row and rests; the sweep of the others succeeds", async () => {
    const { rows } = await db.pool.query<{ object_type_id: string }>(`select object_type_id from hubsync.objects where object_type = 'cars'`);
    await db.pool.query(`update hubsync.objects set object_type_id = '2-999999' where object_type = 'cars'`);
    try {
      const outcomes = await sweepAssociations(worker, { restMs: 0 });
      const refused = outcomes.filter((o) => o.refused).map((o) => o.table);
      expect(refused).toContain("associations_car_contact");
      expect(refused.every((t) => t.startsWith("associations_car_"))).toBe(true);
      const { rows: pair } = await db.pool.query(
        `select last_error, rest_until > now() as resting from hubsync.association_status where table_name = 'associations_car_contact'`,
      );
      expect(pair[0]).toMatchObject({ last_error: expect.stringContaining("HubSpot 400"), resting: true });
      // the table keeps what it had
      expect((await actual(await pairNamed("associations_car_contact"))).length).toBeGreaterThan(0);
      const resting = await sweepAssociations(worker, {});
      expect(resting.map((o) => o.table)).not.toContain("associations_car_contact");
    } finally {
      await db.pool.query(`update hubsync.objects set object_type_id = $1 where object_type = 'cars'`, [rows[0]!.object_type_id]);
    }
    await sweepAssociations(worker, { restMs: 0 });
    const { rows: after } = await db.pool.query(`select last_error from hubsync.association_status where table_name = 'associations_car_contact'`);
    expect(after[0].last_error).toBeNull();
  });

  it("joining contacts to companies through associations_company_contact gives what HubSpot shows for a company", async () => {
    const { rows: top } = await db.pool.query<{ company_id: string }>(
      `select company_id from hubspot.associations_company_contact group by 1 order by count(*) desc, 1 limit 1`,
    );
    const company = top[0]!.company_id;
    const { rows } = await db.pool.query<{ email: string; labels: string[] }>(
      `select c.email, x.labels from hubspot.companies co
         join hubspot.associations_company_contact x on x.company_id = co.id
         join hubspot.contacts c on c.id = x.contact_id
        where co.id = $1 order by c.email`,
      [company],
    );
    const inHubSpot = (await sim.control.listAssociations("companies", "contacts")).filter((a) => a.fromId === company);
    const emails = await Promise.all(inHubSpot.map(async (a) => (await sim.control.getRecord("contacts", a.toId))!.properties.email as string));
    expect(rows.map((r) => r.email)).toEqual([...emails].sort());
    expect(rows.length).toBeGreaterThan(0);
    const { rows: status } = await db.pool.query(`select table_name, rows, last_sweep_at is not null as swept, last_error from hubsync.association_status order by 1`);
    expect(status).toHaveLength(19);
    for (const s of status) expect(s).toMatchObject({ swept: true, last_error: null });
  });
});

async function countPairs(type: string): Promise<number> {
  return (await loadPairs(worker.pool, type)).length;
}
