import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import type { RunningWorker } from "../src/core/worker/runner.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { enableSync, startTestWorker } from "./support/worker.ts";

let db: TestDatabase;
let sim: RunningSimulator;
let worker: RunningWorker | null = null;

/** Polls a condition (undefined = not yet) with a generous limit: the suite runs under load. */
const until = <T>(what: string, check: () => Promise<T | undefined>) => waitFor(what, check, { timeoutMs: 60_000, intervalMs: 200 });

const TABLES = [
  "associations_company_company",
  "associations_company_contact",
  "associations_company_deal",
  "associations_contact_contact",
  "associations_contact_deal",
  "associations_deal_deal",
];

async function sameAsHubSpot(table: string, from: string, to: string, aCol: string, bCol: string): Promise<void> {
  const want = (await sim.control.listAssociations(from, to)).map((l) => `${l.fromId}>${l.toId}`).sort();
  const { rows } = await db.pool.query(`select "${aCol}" || '>' || "${bCol}" as k from hubspot."${table}"`);
  expect(rows.map((r) => r.k).sort(), table).toEqual(want);
}

beforeAll(async () => {
  db = await installedDatabase("assoc_worker");
  sim = await startSimulator({ tier: "pro", seed: { size: 800, seed: 3 } });
  worker = await startTestWorker(db.url, sim);
});

afterAll(async () => {
  await worker?.stop();
  await sim?.close();
  await db?.drop();
});

describe("associations with the worker running — one story, in order: later tests build on what earlier ones left", () => {
  it("enable_sync of three types alone creates and fills their association tables", async () => {
    for (const t of ["companies", "contacts", "deals"]) await enableSync(db.pool, t);
    await until("association tables backfilled", async () => {
      const { rows } = await db.pool.query(`select table_name, backfilled_at, last_error from hubsync.association_pairs order by 1`);
      for (const r of rows) if (r.last_error) throw new Error(`${r.table_name}: ${r.last_error}`);
      return rows.length === TABLES.length && rows.every((r) => r.backfilled_at !== null) ? true : undefined;
    });
    const { rows } = await db.pool.query(`select table_name from hubsync.association_pairs order by 1`);
    expect(rows.map((r) => r.table_name)).toEqual(TABLES);
    await sameAsHubSpot("associations_company_contact", "companies", "contacts", "company_id", "contact_id");
    await sameAsHubSpot("associations_contact_deal", "contacts", "deals", "contact_id", "deal_id");
    await sameAsHubSpot("associations_company_company", "companies", "companies", "from_company_id", "to_company_id");
    const { rows: status } = await db.pool.query(`select object_type, phase from hubsync.status where object_type like 'associations_%' order by 1`);
    expect(status).toEqual(TABLES.map((t) => ({ object_type: t, phase: "live" })));
    // the analyst role can read them
    const { rows: grants } = await db.pool.query(`select bool_and(has_table_privilege('hubspot_reader', 'hubspot.' || table_name, 'select')) as ok from hubsync.association_pairs`);
    expect(grants[0].ok).toBe(true);
  }, 90_000);

  it("the crontab's sweep task picks up an association made in HubSpot", async () => {
    const { rows } = await db.pool.query<{ contact: string; deal: string }>(
      `select c.id as contact, d.id as deal from hubspot.contacts c, hubspot.deals d
        where not exists (select 1 from hubspot.associations_contact_deal x where x.contact_id = c.id and x.deal_id = d.id)
        order by 1, 2 limit 1`,
    );
    const { contact, deal } = rows[0]!;
    await sim.control.associate("deals", deal, "contacts", contact);
    await db.pool.query(`select hubsync_worker.add_job('hubsync_sweep_associations', '{}'::json, job_key := 'hubsync_sweep_associations')`);
    await until("the new association", async () => {
      const r = await db.pool.query(`select type_ids from hubspot.associations_contact_deal where contact_id = $1 and deal_id = $2`, [contact, deal]);
      return r.rows[0]?.type_ids as number[] | undefined;
    });
    const { rows: row } = await db.pool.query(`select type_ids from hubspot.associations_contact_deal where contact_id = $1 and deal_id = $2`, [contact, deal]);
    expect(row).toEqual([{ type_ids: [4] }]); // contact → deal, although HubSpot was told deal → contact
    expect((await sim.control.counters()).rateLimited).toBe(0);
    // batch reads are charged to the budget's own bucket (HubSpot exempts them from the 10-second limit)
    const { rows: budget } = await db.pool.query(`select requests::int as n from hubsync.rate_budget where bucket = 'associations'`);
    expect(budget[0].n).toBeGreaterThan(0);
  }, 90_000);

  it("a contact created in HubSpot with its company arrives with the association after the pull, no sweep needed", async () => {
    const { rows } = await db.pool.query<{ id: string }>(`select id from hubspot.companies order by id limit 1`);
    const company = rows[0]!.id;
    const created = await sim.control.createRecord("contacts", { email: "fresh@example.com", firstname: "Fresh" });
    await sim.control.associate("contacts", created.id, "companies", company, [279, 1]);
    await db.pool.query(`select hubsync_worker.add_job('hubsync_pull', '{"objectType":"contacts"}'::json, queue_name := 'hubsync:contacts', job_key := 'hubsync_pull:contacts')`);
    const row = await until("the association of the new contact", async () => {
      const r = await db.pool.query(`select labels, type_ids from hubspot.associations_company_contact where contact_id = $1`, [created.id]);
      return r.rows[0] as { labels: string[]; type_ids: number[] } | undefined;
    });
    expect(row).toEqual({ labels: ["Primary"], type_ids: [2, 280] });
    // it came through the refresh that follows the pull (a run of its own), not a sweep
    await until("the refresh run", async () => {
      const r = await db.pool.query(`select count(*)::int as n from hubsync.runs where kind = 'associations' and status = 'ok' and details ->> 'refresh' = 'contacts'`);
      return r.rows[0].n > 0 ? true : undefined;
    });
  }, 90_000);
});
