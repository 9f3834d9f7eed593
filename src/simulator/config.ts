import { z } from "zod";

/**
 * The simulator's knobs: tier and rate limits, latency, index lag, faults and the behaviours
 * HubSpot leaves undocumented, each switchable. Parsed with zod wherever it
 * enters (startSimulator options, `POST /_sim/configure`, the CLI).
 */

export const TIERS = ["free", "starter", "pro", "enterprise"] as const;
export type Tier = (typeof TIERS)[number];

export interface RateLimitConfig {
  /** Requests per rolling window (TEN_SECONDLY_ROLLING). */
  burst: number;
  windowMs: number;
  /** Search requests per second (SECONDLY). */
  search: number;
  /** Requests per day (DAILY). */
  daily: number;
  /**
   * Association requests per rolling `windowMs`: a window of their own, apart from the general
   * burst bucket (HubSpot's associations guide: 100 per 10 s on Free/Starter, 150 on
   * Professional/Enterprise, 200 with the limit increase).
   */
  associations: number;
}

/**
 * HubSpot's published limits for private apps: burst per 10 s per app, search 5 per second, daily
 * per account. Pro's daily figure: 625k (usage guidelines) or 650k (Sept-2024 changelog).
 */
export function tierLimits(tier: Tier, proDaily: 625_000 | 650_000 = 625_000): RateLimitConfig {
  switch (tier) {
    case "free":
    case "starter":
      return { burst: 100, windowMs: 10_000, search: 5, daily: 250_000, associations: 100 };
    case "pro":
      return { burst: 190, windowMs: 10_000, search: 5, daily: proDaily, associations: 150 };
    case "enterprise":
      return { burst: 190, windowMs: 10_000, search: 5, daily: 1_000_000, associations: 150 };
  }
}

export const FaultsSchema = z.object({
  /** Fraction of HubSpot requests answered 502/503/504. */
  serverErrorRate: z.number().min(0).max(1).default(0),
  /** Fraction of requests held unanswered for `timeoutMs`. */
  timeoutRate: z.number().min(0).max(1).default(0),
  /** Fraction of requests whose socket is destroyed without an answer. */
  dropRate: z.number().min(0).max(1).default(0),
  timeoutMs: z.number().int().min(0).default(30_000),
  /** Fraction of requests that are processed (writes happen) but whose answer is lost (socket destroyed). */
  lostResponseRate: z.number().min(0).max(1).default(0),
  /** Seed for the fault dice: the same sequence of requests then meets the same faults (tests). */
  seed: z.number().int().optional(),
  /** Which 5xx statuses the server errors use. */
  statuses: z.array(z.number().int().min(500).max(599)).min(1).default([502, 503, 504]),
  /** Only paths containing this text meet the drops, timeouts, 5xx and lost answers above (e.g. "/batch/upsert"); "" = every path. */
  faultPath: z.string().optional(),
  /**
   * Fraction of successful answers sent malformed: a 200 whose JSON is cut short ("truncated") or
   * has the wrong shape ("shape": a record without its id, properties that are not an object, a
   * list that is not a list). What a broken proxy or an API change looks like to a client.
   */
  malformedRate: z.number().min(0).max(1).default(0),
  /** Only paths containing this text are affected (e.g. "/search", "/crm/v3/objects/contacts"); "" = every path. */
  malformedPath: z.string().optional(),
  malformedKind: z.enum(["truncated", "shape", "mixed"]).default("mixed"),
  /**
   * Fraction of record updates after which search still finds the record at its previous
   * last-modified position for `searchStaleMs`, carrying its new values and time (hits out of
   * sort order, later than the query's upper bound). Besides its entry at the new position.
   */
  searchStaleRate: z.number().min(0).max(1).default(0),
  searchStaleMs: z.number().int().min(0).default(30 * 60_000),
  /** Fraction of search pages cut short (possibly to nothing) that still carry paging.next to the rest. */
  searchShortPageRate: z.number().min(0).max(1).default(0),
});
export type FaultConfig = z.infer<typeof FaultsSchema>;

/**
 * Search as connector authors meet it on busy portals: 5% of updates leave the record at its old
 * position for a while (hits out of sort order, past the query's bound), 10% of pages come back
 * short with a cursor to the rest. What the pull tests, the soak and the bench run against.
 */
export const SEARCH_DISORDER = { searchStaleRate: 0.05, searchShortPageRate: 0.1 } as const;

const RateLimitsSchema = z.object({
  burst: z.number().int().positive(),
  windowMs: z.number().int().positive(),
  search: z.number().int().positive(),
  daily: z.number().int().positive(),
  associations: z.number().int().positive(),
});

export const ConfigPatchSchema = z
  .object({
    token: z.string().min(1),
    tier: z.enum(TIERS),
    /** Overrides on top of the tier's limits, or false to switch limits off. */
    rateLimits: z.union([z.literal(false), RateLimitsSchema.partial()]),
    /**
     * Association endpoints (records and labels, v4 and dated) draw on their own burst window
     * (`rateLimits.associations`), as on HubSpot; false = only the daily quota limits them.
     */
    associationsWindow: z.boolean(),
    /** Pro's daily quota: 625,000 (current docs) or 650,000 (2024 changelog). */
    proDailyLimit: z.union([z.literal(625_000), z.literal(650_000)]),
    /** Fixed ms, or a {min, max} range (min + uniform jitter). */
    latencyMs: z.union([z.number().min(0), z.object({ min: z.number().min(0), max: z.number().min(0) })]),
    latencyJitterMs: z.number().min(0),
    indexLagMs: z.number().min(0),
    /** Only the fields given change; the others keep their current values. */
    faults: z.object({
      serverErrorRate: z.number().min(0).max(1),
      timeoutRate: z.number().min(0).max(1),
      dropRate: z.number().min(0).max(1),
      timeoutMs: z.number().int().min(0),
      lostResponseRate: z.number().min(0).max(1),
      seed: z.number().int(),
      statuses: z.array(z.number().int().min(500).max(599)).min(1),
      malformedRate: z.number().min(0).max(1),
      malformedPath: z.string(),
      faultPath: z.string(),
      malformedKind: z.enum(["truncated", "shape", "mixed"]),
      searchStaleRate: z.number().min(0).max(1),
      searchStaleMs: z.number().int().min(0),
      searchShortPageRate: z.number().min(0).max(1),
    }).partial(),
    maxUrlLength: z.number().int().positive(),
    /**
     * Whether search's 3,000-character body cap counts the `properties` list (HubSpot does not
     * say; true, the stricter reading, by default). False: only the rest of the body is counted.
     */
    searchCapCountsProperties: z.boolean(),
    /** limit > 100 on lists / > 200 on search / > 100 batch inputs: clamp instead of 400. */
    clampLimits: z.boolean(),
    /** GET and batch read of a merged-away id: the record it was merged into (HubSpot), or 404. */
    mergedIdLookup: z.enum(["404", "winner"]),
    /**
     * Merging two contacts or two companies creates a new record with a new id (HubSpot today);
     * false: the primary keeps its id, as before HubSpot's change and as other types still do.
     */
    mergeCreatesNewRecord: z.boolean(),
    /**
     * Batch update naming a merged-away id. HubSpot documents only that it is not supported, not
     * its answer: "omit" leaves the input out of the results without an error (the one answer
     * reported, and the hardest for a client to notice), "notFound" reports it as OBJECT_NOT_FOUND
     * in a 207, "refuse" fails the whole batch with a 400.
     */
    mergedIdBatchUpdate: z.enum(["omit", "notFound", "refuse"]),
    /** Requested properties without a value: null (common observation) or omitted. */
    emptyProperties: z.enum(["null", "omit"]),
    /** Targets per page of associations v4 reads (HubSpot: 500). */
    associationsPageSize: z.number().int().positive(),
    /**
     * Associated ids a list page or GET embeds per record and target type (the `associations` query
     * parameter). HubSpot sends at most 100 and a `paging.next` cursor for the rest, which only the
     * associations API follows.
     */
    embeddedAssociationsLimit: z.number().int().positive(),
    /** Association writes bump both records' last-modified (HubSpot: generally not). */
    associationsBumpLastModified: z.boolean(),
    /**
     * Scopes the app lacks: requests to paths starting with `pathPrefix` get HubSpot's 403
     * MISSING_SCOPES naming `scope` (only for `method`, when given). [] = every scope granted.
     */
    missingScopes: z.array(z.object({ pathPrefix: z.string().min(1), scope: z.string().min(1), method: z.enum(["GET", "POST", "PATCH", "PUT", "DELETE"]).optional() })),
    /**
     * Which batch writes answer 207 with per-input errors when every input carries an
     * objectWriteTraceId: "create" (HubSpot documents no other: one bad input of a batch update or
     * upsert refuses the whole batch with a 400) or "all" (create, update and upsert).
     */
    partialBatchWrites: z.enum(["create", "all"]),
    /** Accept hasUniqueValue on every type; HubSpot only does on contacts, companies, deals, tickets and custom objects. */
    uniquePropertiesEverywhere: z.boolean(),
    /**
     * A portal admin's validation rules: a value of `property` must match `pattern`, or
     * `property` is required when `requiredWhen.property` equals `requiredWhen.equals`. A write
     * breaking one is refused with the admin's `message`, which quotes no value.
     */
    validationRules: z.array(
      z.object({
        objectType: z.string().min(1),
        property: z.string().min(1),
        pattern: z.string().optional(),
        requiredWhen: z.object({ property: z.string().min(1), equals: z.string() }).optional(),
        message: z.string().min(1),
      }),
    ),
    /** Where those rules apply: HubSpot enforces them on writes through the dated APIs (2026-09 on) only. */
    validationRulesOn: z.enum(["dated", "all"]),
    /**
     * 2026-09 paths answer a partly failed batch 207 (true) or 200 with `errors[]` (false). Its
     * spec declares no 207 and HubSpot does not say which status comes back, so the default is
     * the one a client cannot lean on: 200.
     */
    multiStatus2026_09: z.boolean(),
    /** The account's time zone (IANA), as account-info reports it. */
    timeZone: z.string().refine((tz) => {
      try {
        new Intl.DateTimeFormat("en-US", { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, "an IANA time zone"),
    /**
     * HubSpot is moving the account (between data centres, or a portal merge): every API request is
     * answered 477 "Migration in progress" with this Retry-After in seconds (HubSpot: up to hours).
     * null = no migration.
     */
    migrationRetryAfterSeconds: z.number().int().positive().nullable(),
  })
  .partial();
export type ConfigPatch = z.input<typeof ConfigPatchSchema>;

export interface SimulatorConfig {
  token: string;
  tier: Tier;
  proDailyLimit: 625_000 | 650_000;
  rateLimitOverrides: Partial<RateLimitConfig> | false;
  associationsWindow: boolean;
  latencyMs: number;
  latencyJitterMs: number;
  indexLagMs: number;
  faults: FaultConfig;
  maxUrlLength: number;
  searchCapCountsProperties: boolean;
  clampLimits: boolean;
  mergedIdLookup: "404" | "winner";
  mergeCreatesNewRecord: boolean;
  mergedIdBatchUpdate: "omit" | "notFound" | "refuse";
  emptyProperties: "null" | "omit";
  associationsPageSize: number;
  embeddedAssociationsLimit: number;
  associationsBumpLastModified: boolean;
  missingScopes: Array<{ pathPrefix: string; scope: string; method?: "GET" | "POST" | "PATCH" | "PUT" | "DELETE" }>;
  partialBatchWrites: "create" | "all";
  uniquePropertiesEverywhere: boolean;
  validationRules: Array<{ objectType: string; property: string; pattern?: string; requiredWhen?: { property: string; equals: string }; message: string }>;
  validationRulesOn: "dated" | "all";
  multiStatus2026_09: boolean;
  timeZone: string;
  migrationRetryAfterSeconds: number | null;
}

export function defaultConfig(): SimulatorConfig {
  return {
    token: "sim-token",
    tier: "pro",
    proDailyLimit: 625_000,
    rateLimitOverrides: {},
    associationsWindow: true,
    latencyMs: 0,
    latencyJitterMs: 0,
    indexLagMs: 0,
    faults: FaultsSchema.parse({}),
    // HubSpot answers 414 only past about 16,300 characters (what connectors chunk property lists to).
    maxUrlLength: 16_300,
    searchCapCountsProperties: true,
    clampLimits: false,
    mergedIdLookup: "winner",
    mergeCreatesNewRecord: true,
    mergedIdBatchUpdate: "omit",
    emptyProperties: "null",
    associationsPageSize: 500,
    embeddedAssociationsLimit: 100,
    associationsBumpLastModified: false,
    missingScopes: [],
    partialBatchWrites: "create",
    uniquePropertiesEverywhere: false,
    validationRules: [],
    validationRulesOn: "dated",
    multiStatus2026_09: false,
    timeZone: "UTC",
    migrationRetryAfterSeconds: null,
  };
}

/** Applies a validated patch; rate-limit overrides replace earlier ones. */
export function applyConfig(config: SimulatorConfig, patch: ConfigPatch): SimulatorConfig {
  const p = ConfigPatchSchema.parse(patch);
  const next: SimulatorConfig = { ...config, faults: { ...config.faults } };
  if (p.token !== undefined) next.token = p.token;
  if (p.tier !== undefined) next.tier = p.tier;
  if (p.proDailyLimit !== undefined) next.proDailyLimit = p.proDailyLimit;
  if (p.rateLimits !== undefined) next.rateLimitOverrides = p.rateLimits;
  if (p.associationsWindow !== undefined) next.associationsWindow = p.associationsWindow;
  if (typeof p.latencyMs === "number") next.latencyMs = p.latencyMs;
  else if (p.latencyMs) {
    next.latencyMs = p.latencyMs.min;
    next.latencyJitterMs = Math.max(0, p.latencyMs.max - p.latencyMs.min);
  }
  if (p.latencyJitterMs !== undefined) next.latencyJitterMs = p.latencyJitterMs;
  if (p.indexLagMs !== undefined) next.indexLagMs = p.indexLagMs;
  if (p.faults !== undefined) next.faults = FaultsSchema.parse({ ...config.faults, ...p.faults });
  if (p.maxUrlLength !== undefined) next.maxUrlLength = p.maxUrlLength;
  if (p.searchCapCountsProperties !== undefined) next.searchCapCountsProperties = p.searchCapCountsProperties;
  if (p.clampLimits !== undefined) next.clampLimits = p.clampLimits;
  if (p.mergedIdLookup !== undefined) next.mergedIdLookup = p.mergedIdLookup;
  if (p.mergeCreatesNewRecord !== undefined) next.mergeCreatesNewRecord = p.mergeCreatesNewRecord;
  if (p.mergedIdBatchUpdate !== undefined) next.mergedIdBatchUpdate = p.mergedIdBatchUpdate;
  if (p.emptyProperties !== undefined) next.emptyProperties = p.emptyProperties;
  if (p.associationsPageSize !== undefined) next.associationsPageSize = p.associationsPageSize;
  if (p.embeddedAssociationsLimit !== undefined) next.embeddedAssociationsLimit = p.embeddedAssociationsLimit;
  if (p.associationsBumpLastModified !== undefined) next.associationsBumpLastModified = p.associationsBumpLastModified;
  if (p.missingScopes !== undefined) next.missingScopes = p.missingScopes;
  if (p.partialBatchWrites !== undefined) next.partialBatchWrites = p.partialBatchWrites;
  if (p.uniquePropertiesEverywhere !== undefined) next.uniquePropertiesEverywhere = p.uniquePropertiesEverywhere;
  if (p.validationRules !== undefined) next.validationRules = p.validationRules;
  if (p.validationRulesOn !== undefined) next.validationRulesOn = p.validationRulesOn;
  if (p.multiStatus2026_09 !== undefined) next.multiStatus2026_09 = p.multiStatus2026_09;
  if (p.timeZone !== undefined) next.timeZone = p.timeZone;
  if (p.migrationRetryAfterSeconds !== undefined) next.migrationRetryAfterSeconds = p.migrationRetryAfterSeconds;
  return next;
}

/** The limits in force, or null when switched off. */
export function effectiveLimits(config: SimulatorConfig): RateLimitConfig | null {
  if (config.rateLimitOverrides === false) return null;
  const limits = { ...tierLimits(config.tier, config.proDailyLimit), ...config.rateLimitOverrides };
  return config.associationsWindow ? limits : { ...limits, associations: Infinity };
}
