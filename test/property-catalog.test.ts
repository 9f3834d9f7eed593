import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import type { RunningWorker } from "../src/core/worker/runner.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker, enableSync, startTestWorker } from "./support/worker.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let worker: RunningWorker | null = null;
let api: ReturnType<typeof connectWorker>;

const until = <T>(what: string, fn: () => Promise<T | null | undefined | false>) =>
  waitFor(what, async () => (await fn()) || undefined, { timeoutMs: 30_000, intervalMs: 200 });

const SELECTED = ["email", "lifecyclestage", "favourite_colour", "hobbies", "nickname"];

beforeAll(async () => {
  db = await installedDatabase("property_catalog");
  sim = await startSimulator({ rateLimits: false });
  api = connectWorker(db.url, sim);
  await sim.control.createProperty("contacts", {
    name: "favourite_colour",
    label: "Favourite colour",
    type: "enumeration",
    fieldType: "select",
    groupName: "contactinformation",
    description: "What they said at the booth",
    options: [
      { label: "Ruby red", value: "red", displayOrder: 0 },
      { label: "Forest green", value: "green", displayOrder: 1 },
      { label: "Sky blue", value: "blue", displayOrder: 2, hidden: true },
    ],
  });
  await sim.control.createProperty("contacts", {
    name: "hobbies",
    label: "Hobbies",
    type: "enumeration",
    fieldType: "checkbox",
    options: [
      { label: "Chess", value: "chess" },
      { label: "Go", value: "go" },
      { label: "Climbing", value: "climbing" },
    ],
  });
  await sim.control.createProperty("contacts", { name: "nickname", label: "Nickname", type: "string", fieldType: "text" });
  await sim.control.createRecord("contacts", { email: "ada@example.com", lifecyclestage: "marketingqualifiedlead", favourite_colour: "red", hobbies: "chess;go", nickname: "A" });
  await sim.control.createRecord("contacts", { email: "bob@example.com", lifecyclestage: "customer", favourite_colour: "mauve", nickname: "B" });
  worker = await startTestWorker(db.url, sim);
  await enableSync(db.pool, "contacts", SELECTED);
  await until("contacts to go live", async () => {
    const { rows } = await db.pool.query(`select phase, last_error from hubsync.objects where object_type = 'contacts'`);
    if (rows[0].phase === "error") throw new Error(rows[0].last_error);
    return rows[0].phase === "live";
  });
});

afterAll(async () => {
  await worker?.stop();
  await api?.close();
  await sim?.close();
  await db?.drop();
});

describe("HubSpot's property catalog as tables", () => {
  it("hubspot.properties and hubspot.property_options hold what HubSpot lists, options included", async () => {
    const defs = await api.hubspot.properties("contacts");
    const { rows } = await db.pool.query(
      `select name, label, type, field_type, group_name, description, calculated, read_only, has_unique_value, hubspot_defined, archived, created_at, updated_at
         from hubspot.properties where object_type = 'contacts' order by name`,
    );
    expect(rows.map((r) => r.name)).toEqual(defs.map((d) => d.name).sort());
    const colour = rows.find((r) => r.name === "favourite_colour");
    expect(colour).toMatchObject({
      label: "Favourite colour",
      type: "enumeration",
      field_type: "select",
      group_name: "contactinformation",
      description: "What they said at the booth",
      calculated: false,
      read_only: false,
      hubspot_defined: false,
      archived: false,
    });
    expect(colour.created_at).toBeInstanceOf(Date);
    expect(rows.find((r) => r.name === "email")).toMatchObject({ hubspot_defined: true, has_unique_value: false });
    // every property's options, as HubSpot lists them
    const { rows: options } = await db.pool.query(`select property, value, label, display_order, hidden from hubspot.property_options where object_type = 'contacts' order by property, display_order`);
    const expected = defs.flatMap((d) => (d.options ?? []).map((o) => ({ property: d.name, value: o.value, label: o.label, display_order: o.displayOrder ?? null, hidden: o.hidden ?? false })));
    expect(options).toEqual(expect.arrayContaining(expected));
    expect(options).toHaveLength(expected.length);
    expect(options.filter((o) => o.property === "favourite_colour")).toEqual([
      { property: "favourite_colour", value: "red", label: "Ruby red", display_order: 0, hidden: false },
      { property: "favourite_colour", value: "green", label: "Forest green", display_order: 1, hidden: false },
      { property: "favourite_colour", value: "blue", label: "Sky blue", display_order: 2, hidden: true },
    ]);
  });

  it("hubsync.label gives the label, of multi-select values too, and null for a value without an option", async () => {
    const { rows } = await db.pool.query(
      `select hubsync.label('contacts', 'lifecyclestage', 'marketingqualifiedlead') as stage,
              hubsync.label('contacts', 'favourite_colour', 'red') as colour,
              hubsync.label('contacts', 'hobbies', 'chess;go') as hobbies,
              hubsync.label('contacts', 'favourite_colour', 'mauve') as unknown,
              hubsync.label('deals', 'favourite_colour', 'red') as other_type`,
    );
    expect(rows[0]).toEqual({ stage: "Marketingqualifiedlead", colour: "Ruby red", hobbies: "Chess;Go", unknown: null, other_type: null });
  });

  it("hubspot.contacts_labeled shows labels in place of enumeration values; other columns as they are", async () => {
    const { rows } = await db.pool.query(
      `select l.email, l.lifecyclestage, l.favourite_colour, l.hobbies, l.nickname, t.favourite_colour as raw
         from hubspot.contacts_labeled l join hubspot.contacts t using (id) order by l.email`,
    );
    expect(rows).toEqual([
      { email: "ada@example.com", lifecyclestage: "Marketingqualifiedlead", favourite_colour: "Ruby red", hobbies: ["Chess", "Go"], nickname: "A", raw: "red" },
      // a value HubSpot has no option for shows as it is
      { email: "bob@example.com", lifecyclestage: "Customer", favourite_colour: "mauve", hobbies: null, nickname: "B", raw: "mauve" },
    ]);
  });

  it("analysts (hubspot_reader) may read the catalog, the view and call label(), and change nothing", async () => {
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      await client.query("set local role hubspot_reader");
      const { rows } = await client.query(`select favourite_colour, hubsync.label('contacts', 'hobbies', 'go') as go from hubspot.contacts_labeled where email = 'ada@example.com'`);
      expect(rows).toEqual([{ favourite_colour: "Ruby red", go: "Go" }]);
      const n = await client.query(`select count(*)::int as n from hubspot.properties p join hubspot.property_options o on o.object_type = p.object_type and o.property = p.name`);
      expect(n.rows[0].n).toBeGreaterThan(0);
      await expect(client.query(`update hubspot.property_options set label = 'x'`)).rejects.toThrow(/permission denied/);
    } finally {
      await client.query("rollback");
      client.release();
    }
  });

  it("follows HubSpot: a changed option list, a property archived later, a new enumeration column in the view", async () => {
    // an option renamed and one removed in HubSpot's UI
    const res = await fetch(`${sim.url}/crm/v3/properties/contacts/favourite_colour`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${sim.token}`, "content-type": "application/json" },
      body: JSON.stringify({ options: [{ label: "Crimson", value: "red" }, { label: "Forest green", value: "green" }] }),
    });
    expect(res.status).toBe(200);
    await sim.control.deleteProperty("contacts", "nickname");
    await sim.control.createProperty("contacts", {
      name: "tier",
      label: "Tier",
      type: "enumeration",
      fieldType: "radio",
      options: [{ label: "Gold tier", value: "gold" }],
    });
    const ada = (await sim.control.listRecords("contacts")).find((r) => r.properties.email === "ada@example.com")!;
    await sim.control.updateRecord("contacts", ada.id, { tier: "gold" });
    // the DBA adds the new property as a column: discovery runs again
    await enableSync(db.pool, "contacts", [...SELECTED, "tier"]);
    await until("the archived property to be marked", async () => {
      const { rows } = await db.pool.query(`select archived, archived_at from hubspot.properties where object_type = 'contacts' and name = 'nickname'`);
      return rows[0]?.archived === true && rows[0].archived_at !== null;
    });
    const { rows: options } = await db.pool.query(`select value, label from hubspot.property_options where object_type = 'contacts' and property = 'favourite_colour' order by value`);
    expect(options).toEqual([
      { value: "green", label: "Forest green" },
      { value: "red", label: "Crimson" },
    ]);
    await until("the new column's label to show once the pull brings the value", async () => {
      const { rows } = await db.pool.query(`select favourite_colour, tier, nickname from hubspot.contacts_labeled where email = 'ada@example.com'`);
      return rows[0]?.tier === "Gold tier" ? rows[0] : undefined;
    }).then((row) => expect(row).toEqual({ favourite_colour: "Crimson", tier: "Gold tier", nickname: "A" }));
  });

  it("a property whose type changed: the view is built again, the old column labeled too", async () => {
    // multi-select (text[]) becomes single select (text): the old column is kept under another name
    const res = await fetch(`${sim.url}/crm/v3/properties/contacts/hobbies`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${sim.token}`, "content-type": "application/json" },
      body: JSON.stringify({ fieldType: "select" }),
    });
    expect(res.status).toBe(200);
    await enableSync(db.pool, "contacts", [...SELECTED, "tier"]);
    const row = await until("the view to have the renamed column", async () => {
      const { rows } = await db.pool
        .query(`select hobbies, hobbies_was_text_array from hubspot.contacts_labeled where email = 'ada@example.com'`)
        .catch(() => ({ rows: [] as Array<Record<string, unknown>> }));
      return rows[0];
    });
    expect(row).toEqual({ hobbies: "chess;go", hobbies_was_text_array: ["Chess", "Go"] });
  });
});
