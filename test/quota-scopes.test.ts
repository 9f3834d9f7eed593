import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { enableSync, startWorkerWithEnv } from "./support/worker.ts";
import { objectStatus } from "./support/status.ts";

/**
 * The private app lacks one scope (HubSpot's 403 MISSING_SCOPES for deals): deals say which scope
 * to add, the jobs that need it wait instead of retrying, contacts carry on untouched (a missing
 * scope is not a portal-wide pause), and deals sync once the scope is granted.
 */

let db: TestDatabase;
let sim: RunningSimulator;
let worker: Awaited<ReturnType<typeof startWorkerWithEnv>> | null = null;
const PAUSE_MS = 1_000;
const DEALS_SCOPE = [
  { pathPrefix: "/crm/v3/objects/deals", scope: "crm.objects.deals.read" },
  { pathPrefix: "/crm/v3/properties/deals", scope: "crm.objects.deals.read" },
];

beforeAll(async () => {
  db = await installedDatabase("quota_scopes");
  sim = await startSimulator({ rateLimits: false });
  for (let i = 0; i < 30; i++) await sim.control.createRecord("contacts", { email: `c${i}@example.com` });
  for (let i = 0; i < 30; i++) await sim.control.createRecord("deals", { dealname: `D${i}` });
  await sim.control.configure({ missingScopes: DEALS_SCOPE });
  worker = await startWorkerWithEnv(db.url, sim, { HUBSYNC_SCOPES_PAUSE_MS: String(PAUSE_MS) });
});

afterAll(async () => {
  await worker?.stop();
  await sim?.close();
  await db?.drop();
});

const statusOf = (t: string) => objectStatus(db.pool, t);

describe("a missing scope (403)", () => {
  it("names the scope for the type that needs it, does not retry in a loop, leaves other types alone, and recovers when granted", async () => {
    await enableSync(db.pool, "contacts");
    await enableSync(db.pool, "deals");
    const deals = await waitFor(
      "deals to report the missing scope",
      async () => {
        const s = await statusOf("deals");
        return s?.last_error?.includes("403") ? s : undefined;
      },
      { timeoutMs: 20_000, describe: async () => JSON.stringify(await statusOf("deals")) },
    );
    expect(deals.last_error).toContain("lacks scope crm.objects.deals.read");
    await waitFor("contacts live", async () => ((await statusOf("contacts"))?.phase === "live" ? true : undefined), { timeoutMs: 20_000 });
    expect((await statusOf("contacts"))?.last_error).toBeNull();

    const since = Date.now();
    await new Promise((r) => setTimeout(r, 3 * PAUSE_MS));
    const dealCalls = (await sim.control.requests({ since })).filter((r) => r.path.includes("deals"));
    const seconds = (Date.now() - since) / 1000;
    expect(dealCalls.length).toBeLessThanOrEqual(Math.ceil((seconds * 1000) / PAUSE_MS) + 2);
    console.log(`requests for deals while the scope was missing: ${dealCalls.length} in ${seconds.toFixed(1)} s (pause ${PAUSE_MS} ms; 10 min by default)`);
    const failed = await db.pool.query(`select task_identifier, last_error from hubsync_worker.jobs where last_error is not null`);
    expect(failed.rows).toEqual([]);

    await sim.control.configure({ missingScopes: [] });
    await waitFor("deals live once the scope is granted", async () => ((await statusOf("deals"))?.phase === "live" ? true : undefined), {
      timeoutMs: 30_000,
      describe: async () => JSON.stringify(await statusOf("deals")),
    });
    expect((await db.pool.query(`select count(*)::int as n from hubspot.deals`)).rows[0].n).toBe(30);
  }, 60_000);
});
