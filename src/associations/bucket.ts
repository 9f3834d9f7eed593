import type { Bucket } from "../hubspot/client.ts";

/**
 * The rate-budget bucket association reads are charged to. HubSpot's spec marks the v4 association
 * batch and labels endpoints exempt from the ten-secondly burst limit (they count toward the daily
 * quota only), so they should not use up the general bucket that pulls and pushes share. Until the
 * budget has a bucket of its own for them, 'general' is used: conservative (slower, never a 429).
 */
export const ASSOCIATIONS_BUCKET: Bucket = "general";
