import type { FaultConfig } from "./config.ts";

/** Picks the fault (if any) injected into one HubSpot request. */

export type Fault = { kind: "drop" } | { kind: "timeout"; ms: number } | { kind: "server-error"; status: number } | { kind: "lost-response" } | null;

/** `paths`: the request's path and, for a dated path, its legacy twin; a path filter may name either. */
export function pickFault(f: FaultConfig, random: () => number = Math.random, paths: readonly string[] = []): Fault {
  if (f.dropRate === 0 && f.timeoutRate === 0 && f.serverErrorRate === 0 && f.lostResponseRate === 0) return null;
  if (f.faultPath && !paths.some((p) => p.includes(f.faultPath!))) return null;
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

/**
 * A successful answer made malformed (faults.malformedRate): the JSON text cut in half, or the same
 * JSON with the wrong shape where a client is most likely to trip (the first item of a list
 * loses its id / name / objectTypeId and gets properties that are not an object; a body without a
 * list gets one field turned into a string).
 */
export function malformedBody(body: unknown, kind: "truncated" | "shape", random: () => number): { text: string } {
  const text = JSON.stringify(body);
  if (kind === "truncated") return { text: text.slice(0, Math.max(1, Math.floor(text.length / 2))) };
  const copy = JSON.parse(text) as unknown;
  if (copy && typeof copy === "object" && !Array.isArray(copy)) {
    const o = copy as Record<string, unknown>;
    if (Array.isArray(o.results) && o.results.length > 0 && o.results[0] && typeof o.results[0] === "object") {
      const first = o.results[0] as Record<string, unknown>;
      for (const key of ["id", "name", "objectTypeId"]) delete first[key];
      first.properties = "not an object";
    } else if (Array.isArray(o.results)) {
      o.results = "not a list";
    } else {
      const key = Object.keys(o)[Math.floor(random() * Object.keys(o).length)];
      if (key) o[key] = "unexpected";
    }
    return { text: JSON.stringify(o) };
  }
  return { text: JSON.stringify({ unexpected: copy }) };
}

/** Whether this answer is to be malformed, and how. */
export function pickMalformed(f: FaultConfig, paths: readonly string[], random: () => number): "truncated" | "shape" | null {
  if (f.malformedRate <= 0) return null;
  if (f.malformedPath && !paths.some((p) => p.includes(f.malformedPath!))) return null;
  if (random() >= f.malformedRate) return null;
  if (f.malformedKind !== "mixed") return f.malformedKind;
  return random() < 0.5 ? "truncated" : "shape";
}
