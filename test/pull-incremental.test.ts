import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEARCH_DISORDER, startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { pullArchived } from "../src/core/pull/archived.ts";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { pullIncremental } from "../src/core/pull/incremental.ts";
import { reconcile } from "../src/core/pull/reconcile.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { aroundSearch, connectWorker, enableSync } from "./support/worker.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let worker: ReturnType<typeof connectWorker>;
const ids: Record<string, string[]> = {};

beforeAll(async () => {
  db = await installedDatabase("pull_incr");
  sim = await startSimulator({ rateLimits: false, faults: SEARCH_DISORDER });
  worker = connectWorker(db.url, sim);
  await sim.control.createCustomObject({
    name: "boats",
    labels: { singular: "Boat", plural: "Boats" },
    primaryDisplayProperty: "boat_name",
    requiredProperties: ["boat_name"],
    properties: [
      { name: "boat_name", label: "Name", type: "string", fieldType: "text" },
      { name: "length_m", label: "Length", type: "number", fieldType: "number" },
    ],
  });
  const make = async (type: string, n: number, props: (i: number) => Record<string, string>) => {
    ids[type] = [];
    for (let i = 0; i < n; i++) ids[type]!.push((await sim.control.createRecord(type, props(i))).id);
  };
  await make("contacts", 40, (i) => ({ email: `c${i}@example.com`, firstname: `C${i}` }));
  await make("deals", 20, (i) => ({ dealname: `Deal ${i}`, amount: String(i * 100), pipeline: "default", dealstage: "appointmentscheduled" }));
  await make("boats", 20, (i) => ({ boat_name: `Boat ${i}`, length_m: String(5 + i) }));
  for (const t of ["contacts", "deals"]) await enableSync(db.pool, t);
  await enableSync(db.pool, "boats", ["boat_name", "length_m"]);
  await db.pool.query(`update hubsync.objects set on_archive = 'mark' where object_type = 'deals'`);
  const first = await cycleAll(worker, null);
  expect(first.filter((r) => r.error)).toEqual([]);
});

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

const row = async (table: string, id: string) => (await db.pool.query(`select * from hubspot.${table} where id = $1`, [id])).rows[0];

describe("incremental pull — one story, in order: later tests build on what earlier ones left", () => {
  it("brings changes, creations, archives and merges made in HubSpot", async () => {
    await sim.control.updateRecord("contacts", ids.contacts![0]!, { firstname: "Changed" });
    await sim.control.updateRecord("boats", ids.boats![0]!, { length_m: "42.5" });
    const created = await sim.control.createRecord("deals", { dealname: "New deal", amount: "7", pipeline: "default", dealstage: "appointmentscheduled" });
    await sim.control.archiveRecord("contacts", ids.contacts![1]!);
    await sim.control.archiveRecord("deals", ids.deals![1]!);
    const merged = await sim.control.mergeRecords("contacts", ids.contacts![2]!, ids.contacts![3]!);

    const results = await cycleAll(worker, null);
    expect(results.filter((r) => r.error)).toEqual([]);

    expect((await row("contacts", ids.contacts![0]!)).firstname).toBe("Changed");
    expect((await row("boats", ids.boats![0]!)).length_m).toBe("42.5");
    expect((await row("deals", created.id)).dealname).toBe("New deal");
    // on_archive = 'delete' (default) for contacts, 'mark' for deals
    expect(await row("contacts", ids.contacts![1]!)).toBeUndefined();
    expect((await row("deals", ids.deals![1]!)).archived_at).not.toBeNull();
    // both merged contacts became the new record the merge made (one row re-keyed), mapped to it
    expect(await row("contacts", ids.contacts![2]!)).toBeUndefined();
    expect(await row("contacts", ids.contacts![3]!)).toBeUndefined();
    expect((await row("contacts", merged.id)).email).toBe(merged.properties.email);
    const merges = await db.pool.query(`select merged_id, winner_id from hubsync.merges where object_type = 'contacts' order by merged_id::bigint`);
    expect(merges.rows).toEqual([2, 3].map((i) => ({ merged_id: ids.contacts![i], winner_id: merged.id })));

    // a restore is picked up again
    await sim.control.restoreRecord("deals", ids.deals![1]!);
    await cycleAll(worker, ["deals"]);
    await reconcile(worker, "deals");
    expect((await row("deals", ids.deals![1]!)).archived_at).toBeNull();
  });

  it("does not rewrite unchanged rows and does not re-read records it already holds", async () => {
    const before = await db.pool.query(`select id, _sync_updated_at from hubspot.contacts order by id`);
    const run = await pullIncremental(worker, "contacts");
    expect(run.records).toBe(0);
    expect(run.details).toMatchObject({ fetched: 0 });
    // the lag window re-scans recent changes through search only (ids), no batch reads
    expect(run.requests).toBe(run.details!.searches);
    const after = await db.pool.query(`select id, _sync_updated_at from hubspot.contacts order by id`);
    expect(after.rows).toEqual(before.rows);
  });

  it("never lets an older copy overwrite a newer one", async () => {
    const id = ids.contacts![5]!;
    await sim.control.updateRecord("contacts", id, { firstname: "Newest" });
    await pullIncremental(worker, "contacts");
    const current = await row("contacts", id);
    const { applyRecords } = await import("../src/core/pull/upsert.ts");
    const { loadTarget } = await import("../src/core/pull/target.ts");
    const { inApplyingTransaction } = await import("../src/core/db/transaction.ts");
    const target = await loadTarget(worker, "contacts");
    const counts = await inApplyingTransaction(worker.pool, (c) =>
      applyRecords(c, target, [
        { id, properties: { ...current.properties, firstname: "Stale" }, createdAt: current.created_at.toISOString(), updatedAt: new Date(current.updated_at.getTime() - 60_000).toISOString(), archivedAt: undefined },
      ]),
    );
    expect(counts).toMatchObject({ updated: 0, unchanged: 1 });
    expect((await row("contacts", id)).firstname).toBe("Newest");
  });

  it("catches a change that search indexes late, through the lag window", async () => {
    // The lag is held long enough that no machine load lets the first pull see the change; the
    // simulator checks the lag when search runs, so setting it back to 0 is the index catching up.
    await sim.control.configure({ indexLagMs: 600_000 });
    try {
      const id = ids.boats![3]!;
      await sim.control.updateRecord("boats", id, { boat_name: "Late" });
      const first = await pullIncremental(worker, "boats", { lagWindowMs: 60_000 });
      // search had not seen it yet, and the watermark moved past it to the run's start
      expect((await row("boats", id)).boat_name).toBe("Boat 3");
      const changedAt = (await sim.control.getRecord("boats", id))!.updatedAt;
      expect(Date.parse(String(first.details!.watermark))).toBeGreaterThan(Date.parse(changedAt));
      await sim.control.configure({ indexLagMs: 0 });
      await pullIncremental(worker, "boats", { lagWindowMs: 60_000 });
      expect((await row("boats", id)).boat_name).toBe("Late");
    } finally {
      await sim.control.configure({ indexLagMs: 0 });
    }
  });

  it("the hourly deep re-scan catches a change indexed later than the lag window", async () => {
    await sim.control.configure({ indexLagMs: 1000 });
    try {
      const id = ids.boats![13]!;
      // a change stamped behind the watermark (later changes to other boats were already pulled)
      // that search only shows a second later
      const stored = (await row("boats", id)).updated_at as Date;
      await sim.control.updateRecord("boats", id, { boat_name: "Indexed late" }, { at: stored.getTime() + 1 });
      const fast = { lagWindowMs: 0, deepEveryMs: 1e12 };
      await pullIncremental(worker, "boats", fast);
      await new Promise((r) => setTimeout(r, 1200));
      await pullIncremental(worker, "boats", fast);
      expect((await row("boats", id)).boat_name).toBe("Boat 13"); // behind the watermark: the fast pass cannot see it
      const deep = await pullIncremental(worker, "boats", { lagWindowMs: 0, deepEveryMs: 0, deepLagMs: 120_000 });
      expect(deep.details).toMatchObject({ deep: true });
      expect((await row("boats", id)).boat_name).toBe("Indexed late");
    } finally {
      await sim.control.configure({ indexLagMs: 0 });
    }
  });

  it("keeps the column of a property that disappears, adds new selected ones, and survives a type change", async () => {
    await db.pool.query(`update hubsync.objects set properties = array['boat_name','length_m','hull_color'] where object_type = 'boats'`);
    await sim.control.createProperty("boats", { name: "hull_color", label: "Hull", type: "string", fieldType: "text" });
    await sim.control.updateRecord("boats", ids.boats![4]!, { hull_color: "red" });
    await pullIncremental(worker, "boats", { rediscoverAfterMs: 0 });
    expect((await row("boats", ids.boats![4]!)).hull_color).toBe("red");

    await sim.control.deleteProperty("boats", "hull_color");
    await sim.control.updateRecord("boats", ids.boats![5]!, { boat_name: "After delete" });
    const run = await pullIncremental(worker, "boats", { rediscoverAfterMs: 0 });
    expect(run.records).toBeGreaterThan(0);
    expect((await row("boats", ids.boats![5]!)).boat_name).toBe("After delete");
    expect((await row("boats", ids.boats![4]!)).hull_color).toBe("red"); // kept
    const col = await db.pool.query(`select archived_at from hubsync.columns where object_type = 'boats' and property_name = 'hull_color'`);
    expect(col.rows[0].archived_at).not.toBeNull();

    // the same name comes back as a number: old text column kept under a new name, new numeric column filled
    await sim.control.createProperty("boats", { name: "hull_color", label: "Hull code", type: "number", fieldType: "number" });
    await sim.control.updateRecord("boats", ids.boats![6]!, { hull_color: "12" });
    await pullIncremental(worker, "boats", { rediscoverAfterMs: 0 });
    const cols = await db.pool.query(`select property_name, column_name, pg_type, archived_at is null as live from hubsync.columns where object_type = 'boats' and property_name like 'hull_color%' order by property_name`);
    expect(cols.rows).toEqual([
      { property_name: "hull_color", column_name: "hull_color", pg_type: "numeric", live: true },
      { property_name: "hull_color@text", column_name: "hull_color_was_text", pg_type: "text", live: false },
    ]);
    expect((await row("boats", ids.boats![6]!)).hull_color).toBe("12");
    expect((await row("boats", ids.boats![4]!)).hull_color_was_text).toBe("red");
  });

  it("enable_sync again with more properties adds the columns, filled from properties, without a new backfill", async () => {
    await enableSync(db.pool, "boats", ["boat_name", "length_m", "hull_color", "hs_createdate"]);
    const results = await cycleAll(worker, ["boats"]);
    expect(results[0]).toMatchObject({ phase: "live" });
    expect(results[0]!.runs.map((r) => r.kind)).not.toContain("backfill");
    const { rows } = await db.pool.query(
      `select count(*)::int as n, count(hs_createdate)::int as filled, bool_and(hs_createdate = (properties->>'hs_createdate')::timestamptz) as same from hubspot.boats`,
    );
    expect(rows[0].n).toBeGreaterThan(0);
    expect(rows[0]).toMatchObject({ filled: rows[0].n, same: true });
  });

  it("reads the archived list only for archives newer than its cursor", async () => {
    await sim.control.archiveRecord("boats", ids.boats![10]!);
    const run = await pullArchived(worker, "boats");
    expect(run.records).toBe(1);
    expect(await row("boats", ids.boats![10]!)).toBeUndefined();
    const again = await pullArchived(worker, "boats");
    expect(again.records).toBe(0);
  });

  it("reconciliation removes rows HubSpot no longer has at all", async () => {
    // a row whose HubSpot record vanished without an archive we saw (purged, or beyond the recycle bin)
    await db.pool.query(`insert into hubspot.boats (id, properties, updated_at, _sync_inserted_at) values ('999999999', '{}', now(), now() - interval '1 day')`);
    const run = await reconcile(worker, "boats");
    expect(run.details).toMatchObject({ removed: 1 });
    expect(await row("boats", "999999999")).toBeUndefined();
  });

  it("marks every write it makes as the sync's own (hubsync.applying), so write-back triggers skip them", async () => {
    await db.pool.query(`
      create table public.applying_seen (op text, applying text);
      create function public.note_applying() returns trigger language plpgsql as $$
        begin insert into public.applying_seen values (tg_op, current_setting('hubsync.applying', true)); return null; end $$;
      create trigger note_applying after insert or update or delete on hubspot.contacts for each row execute function public.note_applying();`);
    try {
      await sim.control.updateRecord("contacts", ids.contacts![6]!, { firstname: "Applying" });
      await sim.control.createRecord("contacts", { email: "applying@example.com" });
      await sim.control.archiveRecord("contacts", ids.contacts![7]!);
      await cycleAll(worker, ["contacts"]);
      await reconcile(worker, "contacts");
      const { rows } = await db.pool.query(`select op, applying from public.applying_seen`);
      expect(new Set(rows.map((r) => r.op))).toEqual(new Set(["INSERT", "UPDATE", "DELETE"]));
      expect(rows.every((r) => r.applying === "on")).toBe(true);
    } finally {
      await db.pool.query(`drop trigger note_applying on hubspot.contacts; drop function public.note_applying(); drop table public.applying_seen;`);
    }
  });

  it("records every run with its requests", async () => {
    const runs = await db.pool.query(`select kind, status, count(*)::int as n, sum(requests)::int as requests from hubsync.runs group by 1, 2 order by 1, 2`);
    expect(runs.rows.filter((r) => r.status !== "ok")).toEqual([]);
    expect(runs.rows.map((r) => r.kind)).toEqual(expect.arrayContaining(["backfill", "incremental", "archived", "reconcile"]));
  });
});

describe("incremental pull while records change under it", () => {
  it("skips nothing when records already read are modified between its pages (keyset, not offsets)", async () => {
    const contacts = ids.contacts!.slice(10, 40); // live ones the other tests leave alone
    const base = Date.now();
    for (const [i, id] of contacts.entries()) await sim.control.updateRecord("contacts", id, { firstname: `First ${i}` }, { at: base + i });
    // Between the first page and the second, a user edits the records that page returned: they
    // leave the run's window (their new time is after its start). With offset paging the second
    // page would then start 10 records late and those 10 would wait for the next run.
    const deps = aroundSearch(worker, async (n, search) => {
      const page = await search();
      if (n === 1) for (const id of contacts.slice(0, 10)) await sim.control.updateRecord("contacts", id, { lastname: "Edited meanwhile" });
      return page;
    });
    await pullIncremental(deps, "contacts", { lagWindowMs: 1_000, pageSize: 10 });
    const read = async () => {
      const { rows } = await db.pool.query<{ id: string; firstname: string; lastname: string | null }>(
        `select id, firstname, lastname from hubspot.contacts where id = any($1::text[])`,
        [contacts],
      );
      return new Map(rows.map((r) => [r.id, r]));
    };
    // Every record not edited mid-run is current after this run...
    const got = await read();
    const stale = contacts.slice(10).filter((id, i) => got.get(id)?.firstname !== `First ${i + 10}`);
    expect(stale).toEqual([]);
    // ...and the edits made after it started arrive with the next one.
    await pullIncremental(worker, "contacts", { lagWindowMs: 1_000, pageSize: 10 });
    const next = await read();
    expect(contacts.filter((id, i) => next.get(id)?.firstname !== `First ${i}`)).toEqual([]);
    expect(contacts.slice(0, 10).filter((id) => next.get(id)?.lastname === "Edited meanwhile")).toHaveLength(10);
  });
});
