import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cycleAll } from "../src/core/pull/cycle.ts";
import { loadPairs, type AssociationPair } from "../src/core/associations/pairs.ts";
import { syncPair } from "../src/core/associations/sync.ts";
import type { SyncContext } from "../src/core/context.ts";
import { expectedRows, tableRows } from "./support/associations.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { testSimulator, type TestSimulator } from "./support/simulator.ts";
import { connectWorker, enableSync } from "./support/worker.ts";

/**
 * Read from the end with fewer records, a pair can bring hundreds of associations per record: a
 * few companies holding all of a portal's contacts. A batch read of 1,000 such records held them
 * all at once and ran the worker out of heap at the end of a million-contact backfill. The reads
 * are sized by what each record is known (or found) to carry, and the pair still comes out whole.
 */
let db: TestDatabase;
let sim: TestSimulator;
let worker: ReturnType<typeof connectWorker>;
/** The worker's deps, with each association batch-read answer counted as its own client receives it. */
let observed: SyncContext;
let pair: AssociationPair;
/** Associations in each batch-read answer, as the worker's own client received them. */
const answers: number[] = [];

beforeAll(async () => {
  db = await installedDatabase("assoc_read_size");
  // a few companies, each the employer of hundreds of contacts (more than one 500-association page for some)
  sim = await testSimulator({ seed: { size: 60, seed: 5, counts: { contacts: 3000 } } });
  worker = connectWorker(db.url, sim);
  const request = worker.hubspot.request;
  observed = {
    ...worker,
    hubspot: {
      ...worker.hubspot,
      request: (async (...args: Parameters<typeof request>) => {
        const res = (await request(...args)) as { results?: Array<{ to?: unknown[] }> };
        if (args[0] === "associations" && args[1].path.endsWith("/batch/read")) answers.push((res.results ?? []).reduce((n, r) => n + (r.to?.length ?? 0), 0));
        return res;
      }) as typeof request,
    },
  };
  for (const t of ["companies", "contacts"]) await enableSync(worker.pool, t);
  for (const c of await cycleAll(worker, ["companies", "contacts"], { archived: false })) expect(c.error, c.objectType).toBeUndefined();
  pair = (await loadPairs(worker.pool)).find((p) => p.table === "associations_company_contact")!;
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await sim?.close();
  await db?.drop();
});

describe("a pass from the end whose records carry many associations each", () => {
  it("reads a few records at a time, so no answer holds more than the read's share, and the pair comes out whole", async () => {
    const expected = await expectedRows(sim, pair);
    const companies = new Set(expected.map((r) => r.a));
    // the premise: on average each company carries far more than a read's share of 300
    expect(expected.length / companies.size).toBeGreaterThan(300);

    answers.length = 0;
    const first = await syncPair(observed, pair, { side: "a", edgesPerRead: 300 });
    expect(first.ids).toBeGreaterThanOrEqual(companies.size);
    expect(await tableRows(db.pool, pair)).toEqual(expected);
    // an empty table: the pass probed a few records, then sized each read by what it found
    expect(answers.length).toBeGreaterThan(companies.size / 20);
    // a page is at most 500 associations per record; one record per read once each carries more than the share
    expect(Math.max(...answers)).toBeLessThanOrEqual(500);

    answers.length = 0;
    const again = await syncPair(observed, pair, { side: "a", edgesPerRead: 300 });
    expect(again.inserted + again.updated + again.deleted).toBe(0);
    expect(Math.max(...answers)).toBeLessThanOrEqual(500);
    expect(await tableRows(db.pool, pair)).toEqual(expected);
  });

  it("is not misled by a table that holds only a few of each record's rows (what the other end's pages embedded so far)", async () => {
    const expected = await expectedRows(sim, pair);
    // one row left per company: the table alone would say each has one association
    await db.pool.query(`delete from hubspot.${pair.table} t where exists (select 1 from hubspot.${pair.table} u where u."${pair.aColumn}" = t."${pair.aColumn}" and u."${pair.bColumn}" < t."${pair.bColumn}")`);
    expect(Number((await db.pool.query(`select count(*) as n from hubspot.${pair.table}`)).rows[0].n)).toBeLessThan(expected.length / 100);

    answers.length = 0;
    await syncPair(observed, pair, { side: "a", edgesPerRead: 300 });
    expect(Math.max(...answers)).toBeLessThanOrEqual(500);
    expect(await tableRows(db.pool, pair)).toEqual(expected);
  });
});
