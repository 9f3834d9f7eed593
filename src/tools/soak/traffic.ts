import type { ControlCounters } from "../../simulator/control-client.ts";

/** The simulator's counters, as the soak reports them. */
export interface Traffic {
  requests: number;
  rateLimited: number;
  /** Injected 502/503/504 answers. */
  serverErrors: number;
  /** Requests that got no answer: dropped connections, timeouts, lost responses (injected). */
  noAnswer: number;
  /** serverErrors + noAnswer. */
  faults: number;
  /** 500s: the simulator failed on its own (not injected) — a bug somewhere. */
  internalErrors: number;
  /** Other 4xx than 429 (a request hubsync should not have made, or a 404 after a race). */
  clientErrors: number;
  /** The endpoints most called, most first (where the calls went). */
  topEndpoints: Array<{ endpoint: string; calls: number }>;
}

const INJECTED = new Set(["502", "503", "504"]);

export function trafficOf(c: ControlCounters): Traffic {
  let serverErrors = 0;
  let clientErrors = 0;
  for (const [status, n] of Object.entries(c.byStatus)) {
    if (INJECTED.has(status)) serverErrors += n;
    else if (status.startsWith("4") && status !== "429") clientErrors += n;
  }
  const noAnswer = c.byStatus["0"] ?? 0;
  return {
    requests: c.total,
    rateLimited: c.rateLimited,
    serverErrors,
    noAnswer,
    faults: serverErrors + noAnswer,
    internalErrors: c.byStatus["500"] ?? 0,
    clientErrors,
    topEndpoints: Object.entries(c.byEndpoint)
      .map(([endpoint, calls]) => ({ endpoint, calls }))
      .sort((a, b) => b.calls - a.calls)
      .slice(0, 6),
  };
}
