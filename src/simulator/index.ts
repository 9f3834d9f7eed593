import { associationRoutes } from "./associations-routes.ts";
import { installCatalog, type CatalogOptions } from "./catalog.ts";
import { setAssociationsBumpLastModified } from "./associations.ts";
import { applyConfig, defaultConfig, type ConfigPatch, type SimulatorConfig } from "./config.ts";
import { simulatorControl, type SimulatorControl } from "./control-client.ts";
import { controlRoutes } from "./control-routes.ts";
import { registerAccountRoutes } from "./account-routes.ts";
import { ListsState } from "./lists.ts";
import { registerListRoutes } from "./lists-routes.ts";
import { registerObjectRoutes } from "./objects-routes.ts";
import { registerOwnerRoutes } from "./owners-routes.ts";
import { registerPipelineRoutes } from "./pipelines-routes.ts";
import { registerPropertyRoutes } from "./properties-routes.ts";
import { RateLimiter } from "./rate-limiter.ts";
import { RequestLog } from "./request-log.ts";
import { Router } from "./router.ts";
import { registerSchemaRoutes } from "./schemas-routes.ts";
import { registerSearchRoutes } from "./search.ts";
import { setSearchStaleEntries } from "./search-faults.ts";
import { seedPortal } from "./seed.ts";
import { startHttpServer } from "./server.ts";
import { Store } from "./store.ts";
import { WebhookSender, webhookRoutes, type WebhookConfigInput } from "./webhooks.ts";

/**
 * `startSimulator(opts)`: a HubSpot portal on a local port that @hubspot/api-client talks to with
 * `basePath` set to `url` and `accessToken` set to `token`. The options are SimulatorOptions below
 * plus the behaviour switches of ConfigPatch (config.ts).
 */

export interface SimulatorOptions extends ConfigPatch {
  /** 0 = a free port. */
  port: number;
  host: string;
  portalId: number;
  /** Generate a realistic portal at start (seedPortal in seed.ts). */
  seed: { size: number; seed?: number; counts?: Partial<Record<string, number>> };
  /** Send signed webhook batches from the start (same settings as `POST /_sim/webhooks`). */
  webhooks: WebhookConfigInput;
  /**
   * Property catalogs: `realistic` grows contacts, companies, deals and tickets to a real portal's
   * width (about 370 contact properties); `custom` adds that many portal-defined properties to
   * contacts, companies and deals. Default: the small built-in catalog, which keeps tests fast.
   */
  catalog: Partial<CatalogOptions>;
}

export interface RunningSimulator {
  url: string;
  token: string;
  control: SimulatorControl;
  /** The in-process portal (read it freely; write through `control` so indexes and events stay right). */
  store: Store;
  /** The portal's lists and their members (read it freely; change them through the Lists API). */
  lists: ListsState;
  close(): Promise<void>;
}

export type { SimulatorControl } from "./control-client.ts";
export type { SimulatorConfig } from "./config.ts";
export { SEARCH_DISORDER } from "./config.ts";

export async function startSimulator(opts: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  const { port = 0, host = "127.0.0.1", portalId, seed, webhooks: webhookConfig, catalog, ...patch } = opts;
  let config: SimulatorConfig = applyConfig(defaultConfig(), patch);
  const store = new Store({ portalId });
  installCatalog(store, { realistic: catalog?.realistic ?? false, custom: catalog?.custom ?? 0 });
  const limiter = new RateLimiter();
  const requestLog = new RequestLog();
  const router = new Router();
  registerObjectRoutes(router);
  registerSearchRoutes(router);
  registerPropertyRoutes(router);
  registerSchemaRoutes(router);
  registerOwnerRoutes(router);
  registerPipelineRoutes(router);
  registerAccountRoutes(router);
  const lists = new ListsState(store);
  registerListRoutes(router, lists);
  const control = controlRoutes(store, {
    config: () => config,
    configure(p: ConfigPatch) {
      config = applyConfig(config, p);
      store.indexLagMs = config.indexLagMs;
      store.mergeCreatesNewRecord = config.mergeCreatesNewRecord;
      setAssociationsBumpLastModified(store, config.associationsBumpLastModified);
      setSearchStaleEntries(store, staleSettings(config));
      if (p.rateLimits !== undefined || p.tier !== undefined) limiter.reset();
      return config;
    },
    log: requestLog,
    resetRateLimits: () => limiter.reset(),
  });
  setAssociationsBumpLastModified(store, config.associationsBumpLastModified);
  for (const r of [...associationRoutes(store, { pageSize: () => config.associationsPageSize }), ...control]) {
    const isControl = r.path.startsWith("/_sim");
    // Every association and association-label endpoint is exempt from the general ten-secondly
    // bucket (the spec's x-hubspot-rate-limit-exemptions) and limited by a burst window of its own.
    const rateClass = isControl ? "none" : "associations";
    router.route(r.method, r.path, (req) => r.handler(req), { rateClass, auth: !isControl });
  }
  const webhooks = new WebhookSender(store);
  for (const r of webhookRoutes(webhooks)) router.route(r.method, r.path, r.handler, { rateClass: "none", auth: false });
  store.mergeCreatesNewRecord = config.mergeCreatesNewRecord;
  // The seeded portal exists before the first request: it is indexed already, not lagging.
  if (seed) seedPortal(store, { size: seed.size, seed: seed.seed ?? 1, ...(seed.counts ? { counts: seed.counts } : {}) });
  store.indexLagMs = config.indexLagMs;
  // After the seed: the seeded portal is indexed already, nothing of it sits at an old position.
  setSearchStaleEntries(store, staleSettings(config));
  if (webhookConfig) webhooks.configure(webhookConfig);
  const http = await startHttpServer({ store, router, getConfig: () => config, limiter, requestLog }, port, host);
  return {
    url: http.url,
    get token() {
      return config.token;
    },
    control: simulatorControl(http.url),
    store,
    lists,
    close: async () => {
      webhooks.close();
      await http.close();
    },
  };
}

function staleSettings(config: SimulatorConfig) {
  return { rate: config.faults.searchStaleRate, ms: config.faults.searchStaleMs, seed: config.faults.seed ?? 0 };
}
