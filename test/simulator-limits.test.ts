import { afterEach, describe, expect, it } from "vitest";
import { tierLimits } from "../src/simulator/config.ts";
import { RateLimiter } from "../src/simulator/rate-limiter.ts";
import { apiError, testSimulator, type TestSimulator } from "./support/simulator.ts";

// Authentication, rate limits per tier (headers and 429 bodies), faults, 414, the request log.

const running: TestSimulator[] = [];
async function start(options: Parameters<typeof testSimulator>[0]): Promise<TestSimulator> {
  const sim = await testSimulator(options);
  running.push(sim);
  return sim;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});


describe("authentication", () => {
  it("answers 401 INVALID_AUTHENTICATION for a wrong or missing bearer token", async () => {
    const sim = await start({});
    const wrong = await apiError(sim.client({ accessToken: "not-the-token" }).crm.contacts.basicApi.getPage());
    expect(wrong.code).toBe(401);
    expect(wrong.body).toMatchObject({ status: "error", category: "INVALID_AUTHENTICATION" });
    expect(wrong.body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    const res = await fetch(`${sim.url}/crm/v3/objects/contacts`);
    expect(res.status).toBe(401);
    // the control API needs no token
    expect((await fetch(`${sim.url}/_sim/counters`)).status).toBe(200);
  });
});

describe("rate limits", () => {
  it("sends each tier's headers on ordinary responses", async () => {
    for (const [tier, max, daily] of [["free", "100", "250000"], ["starter", "100", "250000"], ["pro", "190", "625000"], ["enterprise", "190", "1000000"]] as const) {
      const sim = await start({ tier, rateLimits: {} });
      const res = await sim.client().apiRequest({ path: "/crm/v3/objects/contacts" });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-hubspot-ratelimit-max")).toBe(max);
      expect(res.headers.get("x-hubspot-ratelimit-remaining")).toBe(String(Number(max) - 1));
      expect(res.headers.get("x-hubspot-ratelimit-interval-milliseconds")).toBe("10000");
      expect(res.headers.get("x-hubspot-ratelimit-daily")).toBe(daily);
      expect(res.headers.get("x-hubspot-ratelimit-daily-remaining")).toBe(String(Number(daily) - 1));
    }
    const changelog = await start({ tier: "pro", rateLimits: {}, proDailyLimit: 650_000 });
    const res = await changelog.client().apiRequest({ path: "/crm/v3/owners" });
    expect(res.headers.get("x-hubspot-ratelimit-daily")).toBe("650000");
  });

  it("answers 429 TEN_SECONDLY_ROLLING past the burst limit, and the window rolls", async () => {
    const sim = await start({ rateLimits: { burst: 3, windowMs: 300 } });
    const hs = sim.client();
    for (let i = 0; i < 3; i++) await hs.crm.contacts.basicApi.getPage();
    const err = await apiError(hs.crm.contacts.basicApi.getPage());
    expect(err.code).toBe(429);
    expect(err.body).toMatchObject({
      status: "error",
      message: "You have reached your ten_secondly_rolling limit.",
      errorType: "RATE_LIMIT",
      policyName: "TEN_SECONDLY_ROLLING",
    });
    expect(err.body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(err.headers["x-hubspot-ratelimit-remaining"]).toBe("0");
    // search does not draw on the ten-secondly bucket
    const search = await hs.apiRequest({ method: "POST", path: "/crm/v3/objects/contacts/search", body: {} });
    expect(search.status).toBe(200);
    await new Promise((r) => setTimeout(r, 320));
    await hs.crm.contacts.basicApi.getPage();
    const counters = await sim.control.counters();
    expect(counters.rateLimited).toBe(1);
    expect(counters.byPolicy).toEqual({ TEN_SECONDLY_ROLLING: 1 });
    expect(counters.byStatus["429"]).toBe(1);
  });

  it("gives the association endpoints a burst window of their own per tier (v4 and dated), apart from the general bucket", async () => {
    for (const [tier, limit] of [["free", 100], ["starter", 100], ["pro", 150], ["enterprise", 150]] as const) {
      const sim = await start({ tier, rateLimits: {} });
      const hs = sim.client();
      const read = (path: string) => hs.apiRequest({ method: "POST", path, body: { inputs: [{ id: "1" }] } });
      const statuses: number[] = [];
      // Half through v4, half through the dated path: one window.
      for (let i = 0; i < limit; i++) statuses.push((await read(i % 2 ? "/crm/v4/associations/contacts/companies/batch/read" : "/crm/associations/2026-09/contacts/companies/batch/read")).status);
      expect(statuses.filter((s) => s === 429)).toEqual([]);
      const refused = await read("/crm/v4/associations/contacts/companies/batch/read");
      expect(refused.status, tier).toBe(429);
      expect(await refused.json()).toMatchObject({
        status: "error",
        errorType: "RATE_LIMIT",
        policyName: "TEN_SECONDLY_ROLLING",
        groupName: expect.stringContaining("associations"),
      });
      expect((await hs.apiRequest({ method: "GET", path: "/crm/v4/objects/contacts/1/associations/companies" })).status).toBe(429);
      expect((await hs.apiRequest({ method: "GET", path: "/crm/v4/associations/contacts/companies/labels" })).status).toBe(429);
      // The general bucket is untouched by them.
      const general = await hs.apiRequest({ path: "/crm/v3/objects/contacts?limit=1" });
      expect(general.status).toBe(200);
      expect(general.headers.get("x-hubspot-ratelimit-remaining")).toBe(String(tier === "free" || tier === "starter" ? 99 : 189));
    }
  });

  it("the association window rolls, takes the limit increase (200) and can be switched off", async () => {
    const sim = await start({ tier: "pro", rateLimits: { associations: 200 } });
    const hs = sim.client();
    const labels = () => hs.apiRequest({ method: "GET", path: "/crm/associations/2026-03/contacts/companies/labels" });
    for (let i = 0; i < 200; i++) expect((await labels()).status).toBe(200);
    expect((await labels()).status).toBe(429);
    await sim.control.configure({ rateLimits: { associations: 3, windowMs: 300 } });
    for (let i = 0; i < 3; i++) expect((await labels()).status).toBe(200);
    expect((await labels()).status).toBe(429);
    await new Promise((r) => setTimeout(r, 350));
    expect((await labels()).status).toBe(200);
    await sim.control.configure({ associationsWindow: false, rateLimits: { associations: 5 } });
    for (let i = 0; i < 20; i++) expect((await labels()).status).toBe(200);
  });

  it("limits search per second with the message the SDK retries on", async () => {
    const sim = await start({ rateLimits: { search: 2 } });
    const raw = sim.client();
    const body = { filterGroups: [], sorts: [], properties: [], limit: 1, after: "0" };
    await raw.crm.contacts.searchApi.doSearch(body);
    await raw.crm.contacts.searchApi.doSearch(body);
    const err = await apiError(raw.crm.contacts.searchApi.doSearch(body));
    expect(err.code).toBe(429);
    expect(err.body).toMatchObject({ message: "You have reached your secondly limit.", policyName: "SECONDLY", errorType: "RATE_LIMIT" });
    expect(err.headers["x-hubspot-ratelimit-max"]).toBeUndefined();
    // the SDK's own retry (1 s base for this message) gets through
    const retrying = sim.client({ numberOfApiCallRetries: 2 });
    const ok = await retrying.crm.contacts.searchApi.doSearch(body);
    expect(ok.total).toBe(0);
  });

  it("stops at the daily quota with policy DAILY (not retried by the SDK)", async () => {
    const sim = await start({ rateLimits: { daily: 2 } });
    const hs = sim.client({ numberOfApiCallRetries: 3 });
    await hs.crm.contacts.basicApi.getPage();
    await hs.crm.contacts.basicApi.getPage();
    const err = await apiError(hs.crm.contacts.basicApi.getPage());
    expect(err.code).toBe(429);
    expect(err.body).toMatchObject({ message: "You have reached your daily limit.", policyName: "DAILY" });
    expect(err.headers["x-hubspot-ratelimit-daily-remaining"]).toBe("0");
    expect((await sim.control.counters()).total).toBe(3);
    await sim.control.resetRateLimits();
    await hs.crm.contacts.basicApi.getPage();
  });

  it("starts the daily count again at midnight in the account's time zone, not at UTC midnight", () => {
    const limits = { ...tierLimits("free"), daily: 2 };
    const limiter = new RateLimiter();
    const at = (iso: string) => Date.parse(iso);
    // New York is UTC-5 in January: its day runs from 05:00 UTC to 05:00 UTC
    expect(limiter.check("general", limits, "America/New_York", at("2027-01-14T23:00:00Z")).policy).toBeUndefined();
    expect(limiter.check("general", limits, "America/New_York", at("2027-01-14T23:30:00Z")).policy).toBeUndefined();
    // UTC midnight passes: still the same day for the account, so the quota stays spent
    expect(limiter.check("general", limits, "America/New_York", at("2027-01-15T00:30:00Z")).policy).toBe("DAILY");
    expect(limiter.check("general", limits, "America/New_York", at("2027-01-15T04:59:00Z")).policy).toBe("DAILY");
    // the account's midnight
    const fresh = limiter.check("general", limits, "America/New_York", at("2027-01-15T05:00:30Z"));
    expect(fresh.policy).toBeUndefined();
    expect(fresh.headers["X-HubSpot-RateLimit-Daily-Remaining"]).toBe("1");
  });
});

describe("faults, latency and long URLs", () => {
  it("injects 5xx answers with a body, which the SDK retries", async () => {
    const sim = await start({ faults: { serverErrorRate: 1 } });
    const err = await apiError(sim.client().crm.contacts.basicApi.getPage());
    expect([502, 503, 504]).toContain(err.code);
    expect(err.body).toMatchObject({ status: "error" });
    await sim.control.configure({ faults: { serverErrorRate: 0.3, seed: 42 } });
    const retrying = sim.client({ numberOfApiCallRetries: 6 });
    for (let i = 0; i < 3; i++) await retrying.crm.contacts.basicApi.getPage();
    const c = await sim.control.counters();
    expect(c.byStatus["200"]).toBe(3);
  });

  it("holds requests unanswered (timeouts) and drops connections", async () => {
    const sim = await start({ faults: { timeoutRate: 1, timeoutMs: 300 } });
    const started = Date.now();
    await expect(fetch(`${sim.url}/crm/v3/objects/contacts`, { headers: { authorization: `Bearer ${sim.token}` } })).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    const aborted = fetch(`${sim.url}/crm/v3/objects/contacts`, { headers: { authorization: `Bearer ${sim.token}` }, signal: AbortSignal.timeout(100) });
    await expect(aborted).rejects.toThrow();
    await sim.control.configure({ faults: { timeoutRate: 0, dropRate: 1 } });
    await expect(sim.client().crm.contacts.basicApi.getPage()).rejects.toThrow();
    const log = await sim.control.requests();
    expect(log.length).toBeGreaterThan(0);
    expect(log.every((r) => r.status === 0)).toBe(true);
    await sim.control.configure({ faults: { dropRate: 0 } });
    expect((await sim.client().crm.contacts.basicApi.getPage()).results).toEqual([]);
    // a fault patch changes only the fields it names
    await sim.control.configure({ faults: { timeoutRate: 0.25 } });
    const config = await sim.control.configure({ faults: { serverErrorRate: 0.5 } });
    expect(config.faults).toMatchObject({ timeoutRate: 0.25, serverErrorRate: 0.5, timeoutMs: 300 });
  });

  it("can lose the answer after the write happened (what a retried create must survive)", async () => {
    const sim = await start({ faults: { lostResponseRate: 1 } });
    await expect(sim.client().crm.contacts.basicApi.create({ properties: { email: "lost@example.com" }, associations: [] })).rejects.toThrow();
    const stored = await sim.control.listRecords("contacts");
    expect(stored.map((r) => r.properties.email)).toEqual(["lost@example.com"]);
  });

  it("adds the configured latency", async () => {
    const sim = await start({ latencyMs: 120 });
    const started = Date.now();
    await sim.client().crm.contacts.basicApi.getPage();
    expect(Date.now() - started).toBeGreaterThanOrEqual(115);
  });

  it("answers 414 for URLs longer than the limit", async () => {
    const sim = await start({});
    const props = Array.from({ length: 600 }, (_, i) => `custom_property_number_${i}`);
    const err = await apiError(sim.client().crm.contacts.basicApi.getPage(10, undefined, props));
    expect(err.code).toBe(414);
    await sim.control.configure({ maxUrlLength: 100_000 });
    const ok = await sim.client().crm.contacts.basicApi.getPage(10, undefined, props);
    expect(ok.results).toEqual([]);
  });
});

describe("request log and counters", () => {
  it("logs HubSpot requests (not control calls) without credentials, counted by endpoint", async () => {
    const sim = await start({});
    const since = Date.now();
    const hs = sim.client();
    const c = await hs.crm.contacts.basicApi.create({ properties: { email: "log@example.com" }, associations: [] });
    await hs.crm.contacts.basicApi.getById(c.id);
    await apiError(hs.crm.contacts.basicApi.getById("999999"));
    const log = await sim.control.requests({ since });
    expect(log.map((r) => `${r.method} ${r.status}`)).toEqual(["POST 201", "GET 200", "GET 404"]);
    expect(log.every((r) => !r.path.includes(sim.token) && r.at >= since && r.ms >= 0)).toBe(true);
    const counters = await sim.control.counters();
    expect(counters.byEndpoint).toMatchObject({ "POST /crm/v3/objects/{objectType}": 1, "GET /crm/v3/objects/{objectType}/{objectId}": 2 });
    await sim.control.resetCounters();
    expect((await sim.control.counters()).total).toBe(0);
  });
});
