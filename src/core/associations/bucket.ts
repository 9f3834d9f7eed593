import type { Bucket } from "../hubspot/rate-budget.ts";

/**
 * Rate-budget buckets of association reads. HubSpot's spec exempts the v4 association batch
 * endpoints from the ten-secondly burst limit (they count toward the daily quota only), so batch
 * reads go to the budget's 'associations' bucket and never take slots from pulls and pushes. The
 * labels endpoint is marked exempt too, but the simulator (and caution) count it as a general call;
 * it is read at most a couple of times per pair and sweep.
 */
export const ASSOCIATION_BATCH_BUCKET: Bucket = "associations";
