import { z } from "zod";
import { SIGNATURE_VERSIONS, type SignatureVersion } from "./signature.ts";

/**
 * The receiver's settings, from the environment (overridable by CLI flags), checked once at start.
 * The secret is never part of an error message: zod's messages name the variable, not its value.
 */

export const DEFAULT_WEBHOOK_PORT = 8090;

const Versions = z
  .string()
  .transform((s) => s.split(",").map((v) => v.trim().toLowerCase()).filter(Boolean))
  .pipe(z.array(z.enum(SIGNATURE_VERSIONS, { message: "HUBSYNC_WEBHOOK_SIGNATURES lists v1, v2 and/or v3 (comma-separated)" })).min(1));

const WebhookEnv = z.object({
  HUBSPOT_WEBHOOK_SECRET: z
    .string({ message: "hubsync: HUBSPOT_WEBHOOK_SECRET is not set (your HubSpot app's client secret: every webhook request is verified with it)" })
    .min(1, { message: "hubsync: HUBSPOT_WEBHOOK_SECRET is empty (your HubSpot app's client secret: every webhook request is verified with it)" }),
  HUBSYNC_WEBHOOK_SIGNATURES: Versions.default(["v3"]),
  HUBSYNC_WEBHOOK_PUBLIC_URL: z.url({ protocol: /^https?$/, message: "HUBSYNC_WEBHOOK_PUBLIC_URL must be the http(s) URL HubSpot posts to" }).optional(),
  HUBSYNC_WEBHOOK_PORT: z.coerce.number().int().min(0).max(65535).default(DEFAULT_WEBHOOK_PORT),
  HUBSYNC_WEBHOOK_HOST: z.string().min(1).default("0.0.0.0"),
  /** Requests per second per client address (token bucket); 0 turns the limit off. */
  HUBSYNC_WEBHOOK_RATE: z.coerce.number().min(0).default(100),
  HUBSYNC_WEBHOOK_BURST: z.coerce.number().int().min(1).default(200),
});

export interface WebhookConfig {
  secret: string;
  accept: SignatureVersion[];
  /** The URL HubSpot signs (its targetUrl) when a proxy sits in front; else built from each request. */
  publicUrl: string | null;
  port: number;
  host: string;
  rate: { perSecond: number; burst: number };
}

export function readWebhookConfig(source: NodeJS.ProcessEnv = process.env, overrides: { port?: number; host?: string } = {}): WebhookConfig {
  // An empty variable is "not set" for the optional ones (a blank line in an env file).
  const env = Object.fromEntries(Object.entries(source).filter(([k, v]) => k.startsWith("HUB") && (v !== "" || k === "HUBSPOT_WEBHOOK_SECRET")));
  const parsed = WebhookEnv.safeParse(env);
  if (!parsed.success) {
    const secret = parsed.error.issues.find((i) => i.path[0] === "HUBSPOT_WEBHOOK_SECRET");
    if (secret) throw new Error(secret.message);
    throw new Error(`hubsync: bad webhook settings: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  const e = parsed.data;
  return {
    secret: e.HUBSPOT_WEBHOOK_SECRET,
    accept: [...new Set(e.HUBSYNC_WEBHOOK_SIGNATURES)],
    publicUrl: e.HUBSYNC_WEBHOOK_PUBLIC_URL ?? null,
    port: overrides.port ?? e.HUBSYNC_WEBHOOK_PORT,
    host: overrides.host ?? e.HUBSYNC_WEBHOOK_HOST,
    rate: { perSecond: e.HUBSYNC_WEBHOOK_RATE, burst: e.HUBSYNC_WEBHOOK_BURST },
  };
}

const ApplyEnv = z.object({
  HUBSYNC_WEBHOOK_APPLY_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).optional(),
  HUBSYNC_WEBHOOK_RETENTION_HOURS: z.coerce.number().min(0).optional(),
});

/** The apply task's settings (worker side): minimum time between runs, how long applied rows are kept. */
export function readApplySettings(source: NodeJS.ProcessEnv = process.env): { minIntervalMs?: number; retentionMs?: number } {
  const parsed = ApplyEnv.safeParse(Object.fromEntries(Object.entries(source).filter(([k, v]) => k.startsWith("HUBSYNC_WEBHOOK_") && v !== "")));
  if (!parsed.success) throw new Error(`hubsync: bad webhook settings: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const e = parsed.data;
  return {
    ...(e.HUBSYNC_WEBHOOK_APPLY_INTERVAL_MS !== undefined ? { minIntervalMs: e.HUBSYNC_WEBHOOK_APPLY_INTERVAL_MS } : {}),
    ...(e.HUBSYNC_WEBHOOK_RETENTION_HOURS !== undefined ? { retentionMs: e.HUBSYNC_WEBHOOK_RETENTION_HOURS * 3_600_000 } : {}),
  };
}
