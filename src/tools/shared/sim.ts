import { z } from "zod";
import type { FaultConfig } from "../../simulator/config.ts";
import { SEARCH_DISORDER, startSimulator, type SimulatorControl } from "../../simulator/index.ts";
import type { Store } from "../../simulator/store.ts";

/**
 * The simulator as the bench and the demo use it: started in this process at a real tier's rate
 * limits and a realistic latency, seeded with a portal, and read through its control API (which is
 * not counted as HubSpot traffic) for the figures and the lost/duplicated checks.
 */
export type Tier = "free" | "pro";

/** HubSpot's burst limit per 10 seconds for a private app (reference/hubspot-api.md). */
export const BURST_LIMIT_PER_10S: Record<Tier, number> = { free: 100, pro: 190 };

export interface SimRecord {
  id: string;
  updatedAt: number;
  properties: Record<string, string | null>;
}

export interface SimTraffic {
  requests: number;
  rateLimited: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  at: number;
}

export interface BenchSim {
  url: string;
  token: string;
  tier: Tier;
  /** The control API (user edits, faults, counters) and the in-process portal, for the soak's changes and comparisons. */
  control: SimulatorControl;
  store: Store;
  traffic(): Promise<SimTraffic>;
  /** Zeroes the request counters and the rate-limit windows. */
  resetTraffic(): Promise<void>;
  requestsSince(ms: number): Promise<LoggedRequest[]>;
  /** Live (not archived) records of a type. */
  records(type: string): Promise<SimRecord[]>;
  record(type: string, id: string): Promise<SimRecord | null>;
  update(type: string, id: string, properties: Record<string, string>): Promise<void>;
  /** Properties the portal defines for a type (archived ones left out): how wide its records are. */
  propertyCount(type: string): number;
  close(): Promise<void>;
}

export interface BenchSimOptions {
  tier: Tier;
  latencyMs: { min: number; max: number };
  seedSize: number;
  seed: number;
  /** Exact record counts for some types (the scale scenario's million contacts). */
  seedCounts?: Partial<Record<string, number>>;
  /**
   * Fault injection from the start (the soak). Search misbehaves as on a busy HubSpot portal
   * (hits out of order, short pages: SEARCH_DISORDER) unless `searchDisorder` is false; the other
   * faults are off unless given here.
   */
  faults?: Partial<FaultConfig>;
  searchDisorder?: boolean;
  /** HubSpot's catalog widths (about 370 contact properties) unless false. */
  realisticCatalog?: boolean;
  /** How late search sees changes (HubSpot's index lag); 0 by default. */
  indexLagMs?: number;
}

const LoggedShape = z.object({ method: z.string(), path: z.string(), status: z.number(), at: z.number() });

export async function startBenchSimulator(opts: BenchSimOptions): Promise<BenchSim> {
  const sim = await startSimulator({
    tier: opts.tier,
    // the simulator adds latencyMs plus up to latencyJitterMs per request
    latencyMs: opts.latencyMs.min,
    latencyJitterMs: opts.latencyMs.max - opts.latencyMs.min,
    seed: { size: opts.seedSize, seed: opts.seed, ...(opts.seedCounts ? { counts: opts.seedCounts } : {}) },
    catalog: { realistic: opts.realisticCatalog ?? true },
    faults: { ...(opts.searchDisorder === false ? {} : SEARCH_DISORDER), ...opts.faults },
    ...(opts.indexLagMs !== undefined ? { indexLagMs: opts.indexLagMs } : {}),
  });
  const { control, store } = sim;
  const typeOf = (type: string) => {
    const def = store.resolveType(type);
    if (!def) throw new Error(`simulator has no object type ${type}`);
    return def;
  };
  // Reads go straight to the in-process store: comparing 100,000 records over HTTP would cost more than the run.
  const view = (r: { id: string; updatedAt: number; properties: Record<string, string> }): SimRecord => ({
    id: r.id,
    updatedAt: r.updatedAt,
    properties: { ...r.properties },
  });
  return {
    url: sim.url,
    token: sim.token,
    tier: opts.tier,
    control,
    store,
    async traffic() {
      const c = await control.counters();
      return { requests: c.total, rateLimited: c.rateLimited };
    },
    async resetTraffic() {
      // A fresh 10-second window too: what the previous scenario sent must not count against the next one.
      await control.resetCounters();
      await control.resetRateLimits();
    },
    async requestsSince(ms) {
      return z.array(LoggedShape).parse(await control.requests({ since: ms }));
    },
    async records(type) {
      return store.recordList(typeOf(type), false).map(view);
    },
    async record(type, id) {
      const r = store.getRecord(typeOf(type), id);
      return r && !r.archived ? view(r) : null;
    },
    async update(type, id, properties) {
      await control.updateRecord(type, id, properties);
    },
    propertyCount(type) {
      return store.propertyDefinitions(typeOf(type)).filter((p) => !p.archived).length;
    },
    close: () => sim.close(),
  };
}
