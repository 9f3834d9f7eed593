import type { FaultConfig } from "./config.ts";

/** Picks the fault (if any) injected into one HubSpot request. */

export type Fault = { kind: "drop" } | { kind: "timeout"; ms: number } | { kind: "server-error"; status: number } | { kind: "lost-response" } | null;

export function pickFault(f: FaultConfig, random: () => number = Math.random): Fault {
  if (f.dropRate === 0 && f.timeoutRate === 0 && f.serverErrorRate === 0 && f.lostResponseRate === 0) return null;
  const r = random();
  if (r < f.dropRate) return { kind: "drop" };
  if (r < f.dropRate + f.timeoutRate) return { kind: "timeout", ms: f.timeoutMs };
  if (r < f.dropRate + f.timeoutRate + f.serverErrorRate) {
    return { kind: "server-error", status: f.statuses[Math.floor(random() * f.statuses.length)] ?? 502 };
  }
  if (r < f.dropRate + f.timeoutRate + f.serverErrorRate + f.lostResponseRate) return { kind: "lost-response" };
  return null;
}

const REASONS: Record<number, string> = {
  502: "Bad Gateway: the upstream service did not answer in time.",
  503: "Service Unavailable: HubSpot is temporarily unable to handle the request.",
  504: "Gateway Timeout: the request took too long to process.",
};

export function serverErrorBody(status: number, correlationId: string) {
  return { status: "error", message: REASONS[status] ?? "Internal error", correlationId, category: "INTERNAL_ERROR" };
}
