import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@hubspot/api-client";
import type { RunningWorker } from "../src/core/worker/runner.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { propertyFilter } from "./support/lists.ts";
import { testSimulator, type TestSimulator } from "./support/simulator.ts";
import { quietLog, startWorkerWithEnv } from "./support/worker.ts";
import { createHubSpotApi } from "../src/core/hubspot/client.ts";
import { planPush } from "../src/core/push/dry-run.ts";

/**
 * Lists end to end: the real worker, PostgreSQL and @hubspot/api-client against the simulator's
 * Lists API. `hubsync.enable_sync('lists', write_back => true)` fills hubspot.lists and
 * hubspot.list_memberships; members added or removed in HubSpot arrive with the next pull, members
 * inserted or deleted in SQL reach the MANUAL list through the outbox (once, and not echoed back),
 * a DYNAMIC list's members follow its filter, refusals are visible (at once in SQL for a DYNAMIC
 * list, as an outbox rejection for an id HubSpot lacks), and a membership call that meets 5xx and
 * lost answers is sent again without duplicating anything.
 */

let db: TestDatabase;
let sim: TestSimulator;
let hubspot: Client;
let worker: { worker: RunningWorker; stop(): Promise<void> };
const V = "/crm/lists/2026-09";
let manual: string;
let dynamic: string;
const contacts: Record<string, string> = {};

async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await hubspot.apiRequest({ method, path, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

async function rows<T = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T[]> {
  return (await db.pool.query(sql, params)).rows as T[];
}

/** Polls until `check` holds (generous limit: the machine is shared). */
async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** One pull of lists now, through the worker's own job (as the minute cron queues it). */
async function pullNow(): Promise<void> {
  // a pull that started before this call may have read HubSpot before the change being waited for:
  // only one that started after it counts
  const asked = (await rows<{ t: Date }>(`select now() as t`))[0]!.t;
  await db.pool.query(`select hubsync._enqueue('hubsync_pull', 'lists')`);
  await until(
    "a pull of lists",
    async () => (await rows(`select from hubsync.runs where object_type = 'lists' and kind = 'incremental' and status <> 'running' and started_at >= $1`, [asked])).length > 0,
  );
}

const members = async (listId: string) => (await rows<{ record_id: string }>(`select record_id from hubspot.list_memberships where list_id = $1 order by record_id::bigint`, [listId])).map((r) => r.record_id);
const inHubSpotOf = (list: { members: Map<string, number> } | undefined) => [...(list?.members.keys() ?? [])].sort((a, b) => Number(a) - Number(b));
const inHubSpot = (listId: string) => inHubSpotOf(sim.lists.get(listId));

const leadFilter = propertyFilter("lifecyclestage", { operationType: "ENUMERATION", operator: "IS_ANY_OF", values: ["lead"] });

beforeAll(async () => {
  db = await installedDatabase("lists");
  sim = await testSimulator();
  hubspot = sim.client();
  for (const [name, stage] of [["ann", "lead"], ["bob", "customer"], ["cat", "lead"], ["dan", "customer"], ["eve", "customer"]] as const) {
    contacts[name] = (await hubspot.crm.contacts.basicApi.create({ properties: { email: `${name}@lists.test`, lifecyclestage: stage }, associations: [] })).id;
  }
  manual = (await api("POST", V, { name: "Newsletter", objectTypeId: "0-1", processingType: "MANUAL" })).list.listId;
  dynamic = (await api("POST", V, { name: "Leads", objectTypeId: "0-1", processingType: "DYNAMIC", filterBranch: leadFilter })).list.listId;
  await api("PUT", `${V}/${manual}/memberships/add`, [contacts.ann, contacts.bob]);
  // Three attempts per call instead of six: a membership call that meets only 503s fails into the
  // outbox's backoff after a second and a half rather than after the client's 15 s of retries, and
  // the 5xx and lost-answer cases still go through the client's retry as well as the outbox's.
  worker = await startWorkerWithEnv(db.url, sim, { HUBSYNC_HTTP_MAX_ATTEMPTS: "3" });
  await db.pool.query(`select hubsync.enable_sync('lists', write_back => true)`);
  await until("lists live", async () => (await rows(`select from hubsync.objects where object_type = 'lists' and phase = 'live'`)).length === 1);
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await sim?.close();
  await db?.drop();
});

describe("lists", () => {
  it("backfills the lists and their members, and shows lists in hubsync.status", async () => {
    const lists = await rows(`select list_id, name, object_type_id, object_type, processing_type, size, filters from hubspot.lists order by list_id::int`);
    expect(lists.map((l) => [l.name, l.object_type, l.processing_type, Number(l.size)])).toEqual([
      ["Newsletter", "contacts", "MANUAL", 2],
      ["Leads", "contacts", "DYNAMIC", 2],
    ]);
    expect(lists[1]!.filters).toMatchObject({ filterBranchType: "OR" });
    expect(await members(manual)).toEqual([contacts.ann, contacts.bob].sort((a, b) => Number(a) - Number(b)));
    expect(await members(dynamic)).toEqual(inHubSpot(dynamic));
    const [status] = await rows(`select phase, rows, write_back from hubsync.status where object_type = 'lists'`);
    expect(status).toMatchObject({ phase: "live", write_back: true });
    expect(Number(status!.rows)).toBe(2);
  });

  it("costs one call per pull when nothing changed", async () => {
    await pullNow();
    const since = Date.now();
    await pullNow();
    const calls = (await sim.control.requests({ since })).filter((r) => r.path.startsWith("/crm/lists"));
    expect(calls.map((r) => `${r.method} ${r.path.split("?")[0]}`)).toEqual([`POST ${V}/all`]);
  });

  it("sends a member inserted in SQL (by hubspot_writer) to the MANUAL list once, and does not echo it back", async () => {
    const c = await db.pool.connect();
    try {
      await c.query("begin");
      await c.query("set local role hubspot_writer");
      await c.query(`insert into hubspot.list_memberships (list_id, record_id) values ($1, $2)`, [manual, contacts.cat]);
      await c.query("commit");
    } finally {
      c.release();
    }
    await until("cat in the HubSpot list", async () => inHubSpot(manual).includes(contacts.cat!));
    await until("the outbox row sent", async () => (await rows(`select from hubsync.outbox where object_type = 'lists' and status = 'sent'`)).length === 1);
    await pullNow();
    await pullNow();
    const outbox = await rows(`select op, status, record_id, changes from hubsync.outbox where object_type = 'lists'`);
    expect(outbox).toEqual([{ op: "list_add", status: "sent", record_id: contacts.cat, changes: { listId: manual, recordId: contacts.cat } }]);
    expect(await members(manual)).toEqual(inHubSpot(manual));
  });

  it("brings a member added in HubSpot, and a removal made in HubSpot", async () => {
    await api("PUT", `${V}/${manual}/memberships/add`, [contacts.dan]);
    await pullNow();
    expect(await members(manual)).toContain(contacts.dan);
    const [joined] = await rows<{ added_at: Date }>(`select added_at from hubspot.list_memberships where list_id = $1 and record_id = $2`, [manual, contacts.dan]);
    expect(joined!.added_at.getTime()).toBe(sim.lists.get(manual)!.members.get(contacts.dan!));

    await api("PUT", `${V}/${manual}/memberships/remove`, [contacts.ann]);
    await pullNow();
    expect(await members(manual)).not.toContain(contacts.ann);
    expect(await members(manual)).toEqual(inHubSpot(manual));
  });

  it("reads a list from its start when HubSpot refuses the saved members cursor", async () => {
    await db.pool.query(`update hubsync.cursors set state = jsonb_set(state, '{after}', '"not-a-cursor"') where object_type = 'lists' and stream = $1`, [`members:${manual}`]);
    await api("PUT", `${V}/${manual}/memberships/add`, [contacts.eve]);
    await pullNow();
    expect(await members(manual)).toEqual(inHubSpot(manual));
    await api("PUT", `${V}/${manual}/memberships/remove`, [contacts.eve]);
    await pullNow();
    expect(await members(manual)).toEqual(inHubSpot(manual));
  });

  it("sends a removal made in SQL", async () => {
    await db.pool.query(`delete from hubspot.list_memberships where list_id = $1 and record_id = $2`, [manual, contacts.bob]);
    await until("bob out of the HubSpot list", async () => !inHubSpot(manual).includes(contacts.bob!));
    await pullNow();
    expect(await members(manual)).toEqual(inHubSpot(manual));
    expect(await members(manual)).not.toContain(contacts.bob);
  });

  it("keeps a DYNAMIC list's members equal to its filter as records change in HubSpot", async () => {
    await hubspot.crm.contacts.basicApi.update(contacts.eve!, { properties: { lifecyclestage: "lead" } });
    await hubspot.crm.contacts.basicApi.update(contacts.ann!, { properties: { lifecyclestage: "customer" } });
    await pullNow();
    expect(await members(dynamic)).toContain(contacts.eve);
    expect(await members(dynamic)).not.toContain(contacts.ann);
    expect(await members(dynamic)).toEqual(inHubSpot(dynamic));
    expect(Number((await rows(`select size from hubspot.lists where list_id = $1`, [dynamic]))[0]!.size)).toBe(inHubSpot(dynamic).length);
  });

  it("refuses an edit of a DYNAMIC list in SQL, and keeps HubSpot's refusal of an unknown record visible", async () => {
    await expect(db.pool.query(`insert into hubspot.list_memberships (list_id, record_id) values ($1, $2)`, [dynamic, contacts.bob])).rejects.toThrow(/DYNAMIC/);
    await expect(db.pool.query(`delete from hubspot.list_memberships where list_id = $1`, [dynamic])).rejects.toThrow(/DYNAMIC/);
    expect(await members(dynamic)).toEqual(inHubSpot(dynamic));

    await db.pool.query(`insert into hubspot.list_memberships (list_id, record_id) values ($1, '987654321')`, [manual]);
    await until("the rejection", async () => (await rows(`select from hubsync.list_rejections`)).length === 1);
    const [rejected] = await rows(`select list_id, list_name, record_id, change, error_category, error_message from hubsync.list_rejections`);
    expect(rejected).toMatchObject({ list_id: manual, list_name: "Newsletter", record_id: "987654321", change: "add", error_category: "OBJECT_NOT_FOUND" });
    expect(rejected!.error_message).toMatch(/987654321/);
    const [status] = await rows(`select rejected from hubsync.status where object_type = 'lists'`);
    expect(Number(status!.rejected)).toBe(1);
    // the sweep settles the local row HubSpot never took
    await db.pool.query(`select hubsync._enqueue('hubsync_sweep_lists')`);
    await until("the sweep", async () => (await rows(`select from hubsync.runs where object_type = 'lists' and kind = 'sweep' and status = 'ok'`)).length >= 1);
    expect(await members(manual)).toEqual(inHubSpot(manual));
  });

  it("sends a membership again after 5xx and lost answers, without adding anything twice", async () => {
    await sim.control.configure({ faults: { serverErrorRate: 0.5, lostResponseRate: 0.5, faultPath: "/memberships/add-and-remove", statuses: [502, 503], seed: 7 } });
    const since = Date.now();
    try {
      await db.pool.query(`insert into hubspot.list_memberships (list_id, record_id) values ($1, $2), ($1, $3)`, [manual, contacts.bob, contacts.eve]);
      await until("a few failed tries", async () => (await sim.control.requests({ since })).filter((r: any) => r.path.includes(`/${manual}/memberships/add-and-remove`)).length >= 3);
    } finally {
      await sim.control.configure({ faults: { serverErrorRate: 0, lostResponseRate: 0 } });
    }
    await until("both members in HubSpot", async () => inHubSpot(manual).includes(contacts.bob!) && inHubSpot(manual).includes(contacts.eve!), 60_000);
    await until("both outbox rows sent", async () => (await rows(`select from hubsync.outbox where object_type = 'lists' and op = 'list_add' and record_id = any ($1) and status = 'sent'`, [[contacts.bob, contacts.eve]])).length === 2, 60_000);
    const sent = await rows(`select record_id, attempts from hubsync.outbox where object_type = 'lists' and op = 'list_add' and record_id = any ($1)`, [[contacts.bob, contacts.eve]]);
    expect(sent).toHaveLength(2);
    await pullNow();
    expect(await members(manual)).toEqual(inHubSpot(manual));
    // one member each, however often the call went out
    expect(inHubSpot(manual).filter((id) => id === contacts.bob)).toHaveLength(1);
  });

  it("waits out HubSpot's 429s on the membership call and sends each change once", async () => {
    const throttled = (await api("POST", V, { name: "Throttled", objectTypeId: "0-1", processingType: "MANUAL" })).list.listId;
    await pullNow();
    const since = Date.now();
    await sim.control.configure({ rateLimits: { burst: 2, windowMs: 3_000 } });
    try {
      // a burst of other calls fills HubSpot's window just before the push
      await Promise.all([1, 2, 3].map(() => hubspot.apiRequest({ method: "GET", path: `${V}/${throttled}` }).catch(() => null)));
      await db.pool.query(`insert into hubspot.list_memberships (list_id, record_id) values ($1, $2), ($1, $3)`, [throttled, contacts.ann, contacts.cat]);
      await until("both members in HubSpot", async () => inHubSpot(throttled).length === 2, 60_000);
    } finally {
      // a generous window again, announced in the headers, so the worker learns it back
      await sim.control.configure({ rateLimits: { burst: 10_000, windowMs: 10_000, search: 1_000, daily: 100_000_000 } });
    }
    const calls = (await sim.control.requests({ since })).filter((r) => r.path.includes(`/${throttled}/memberships/add-and-remove`));
    expect(calls.some((r) => r.status === 429)).toBe(true);
    expect(calls.filter((r) => r.status === 200)).toHaveLength(1);
    await until("both outbox rows sent", async () => (await rows(`select from hubsync.outbox where changes ->> 'listId' = $1 and status = 'sent'`, [throttled])).length === 2);
    expect(inHubSpot(throttled)).toEqual([contacts.ann, contacts.cat].sort((a, b) => Number(a) - Number(b)));
  });

  it("never lets a pull undo a local change still waiting to be sent", async () => {
    const pending = (await api("POST", V, { name: "Pending", objectTypeId: "0-1", processingType: "MANUAL" })).list.listId;
    await api("PUT", `${V}/${pending}/memberships/add`, [contacts.ann]);
    await pullNow();
    expect(await members(pending)).toEqual([contacts.ann]);
    await sim.control.configure({ faults: { serverErrorRate: 1, faultPath: `/${pending}/memberships/add-and-remove`, statuses: [503] } });
    try {
      await db.pool.query(`insert into hubspot.list_memberships (list_id, record_id) values ($1, $2)`, [pending, contacts.dan]);
      await db.pool.query(`delete from hubspot.list_memberships where list_id = $1 and record_id = $2`, [pending, contacts.ann]);
      await until("the push to have failed once", async () =>
        (await rows(`select from hubsync.outbox where changes ->> 'listId' = $1 and status = 'pending' and attempts >= 1`, [pending])).length === 2);
      // `hubsync push --dry-run` shows the one call they make together
      const client = createHubSpotApi({ accessToken: sim.token, basePath: sim.url, log: quietLog });
      try {
        const plan = await planPush(db.pool, client, "lists");
        expect(plan.calls).toEqual([{ method: "PUT", path: `${V}/${pending}/memberships/add-and-remove`, inputs: 2, what: `list ${pending}: add 1, remove 1` }]);
      } finally {
        client.close();
      }
      await db.pool.query(`select hubsync._enqueue('hubsync_sweep_lists')`);
      const sweeps = (await rows(`select from hubsync.runs where object_type = 'lists' and kind = 'sweep' and status = 'ok'`)).length;
      await until("the sweep", async () => (await rows(`select from hubsync.runs where object_type = 'lists' and kind = 'sweep' and status = 'ok'`)).length > sweeps);
      await pullNow();
      expect(await members(pending)).toEqual([contacts.dan]);
      expect(inHubSpot(pending)).toEqual([contacts.ann]);
    } finally {
      await sim.control.configure({ faults: { serverErrorRate: 0 } });
    }
    await until("the changes in HubSpot", async () => inHubSpot(pending).join() === contacts.dan, 60_000);
    await pullNow();
    expect(await members(pending)).toEqual([contacts.dan]);
  });

  it("keeps a MANUAL list equal to a view's rows as rows enter and leave it (hubsync.publish_list)", async () => {
    await db.pool.query(`create table vip_source (record_id text, tier text)`);
    await db.pool.query(`create view vip as select record_id from vip_source where tier = 'gold'`);
    await db.pool.query(`insert into vip_source values ($1, 'gold'), ($2, 'gold'), ($3, 'silver')`, [contacts.ann, contacts.cat, contacts.dan]);
    const said = (await rows(`select hubsync.publish_list('vip', 'vip', 'VIP', 'contacts') as r`))[0]!.r;
    expect(said).toMatch(/record_id/);
    const vip = () => sim.lists.all().find((l) => l.name === "VIP" && l.deletedAt === null);
    await until("the VIP list created with ann and cat", async () => inHubSpotOf(vip()).join() === [contacts.ann, contacts.cat].join(), 60_000);
    expect(vip()!.processingType).toBe("MANUAL");

    await db.pool.query(`update vip_source set tier = 'silver' where record_id = $1`, [contacts.cat]);
    await db.pool.query(`update vip_source set tier = 'gold' where record_id = $1`, [contacts.dan]);
    await pullNow();
    await until("cat out, dan in", async () => inHubSpotOf(vip()).join() === [contacts.ann, contacts.dan].join(), 60_000);

    // someone adds a record in HubSpot: the list is the query's, so it leaves again
    await api("PUT", `${V}/${vip()!.listId}/memberships/add`, [contacts.eve]);
    await pullNow();
    await until("eve out again", async () => inHubSpotOf(vip()).join() === [contacts.ann, contacts.dan].join(), 60_000);

    // nothing changed: no membership call
    await until("the outbox drained", async () => (await rows(`select from hubsync.outbox where object_type = 'lists' and status in ('pending', 'in_flight')`)).length === 0);
    await pullNow();
    const since = Date.now();
    await pullNow();
    expect((await sim.control.requests({ since })).filter((r) => r.path.includes("/memberships/"))).toEqual([]);
    const [p] = await rows(`select list_id, key_column, last_added, last_removed, last_unmatched, last_error from hubsync.list_publications where name = 'vip'`);
    expect(p).toMatchObject({ list_id: vip()!.listId, key_column: "record_id", last_added: 0, last_removed: 0, last_unmatched: 0, last_error: null });
    await expect(db.pool.query(`select hubsync.publish_list('bad', 'vip_source', 'X', 'owners')`)).rejects.toThrow(/CRM records/);
    await db.pool.query(`create table no_key (name text)`);
    await expect(db.pool.query(`select hubsync.publish_list('bad', 'no_key', 'X', 'contacts')`)).rejects.toThrow(/no column that names/);
  });

  it("marks a list deleted in HubSpot and drops its members", async () => {
    await api("DELETE", `${V}/${manual}`);
    await pullNow();
    const [l] = await rows(`select deleted_at from hubspot.lists where list_id = $1`, [manual]);
    expect(l!.deleted_at).not.toBeNull();
    expect(await members(manual)).toEqual([]);
    await expect(db.pool.query(`insert into hubspot.list_memberships (list_id, record_id) values ($1, $2)`, [manual, contacts.ann])).rejects.toThrow(/deleted/);
  });
});
