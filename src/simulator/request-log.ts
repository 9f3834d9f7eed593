/**
 * What the simulator was asked, for tests and benchmarks: a bounded request log
 * (method, path with query, status, ms, at) and counters by status, endpoint and 429 policy.
 */

export interface LoggedRequest {
  method: string;
  /** Path and query string; credentials never appear (bearer tokens travel in headers). */
  path: string;
  /** Route pattern, e.g. "POST /crm/v3/objects/{objectType}/search". */
  endpoint: string;
  status: number;
  ms: number;
  /** Epoch ms when the request arrived. */
  at: number;
}

export interface Counters {
  total: number;
  byStatus: Record<string, number>;
  byEndpoint: Record<string, number>;
  rateLimited: number;
  byPolicy: Record<string, number>;
  since: number;
}

const MAX_LOG = 200_000;

export class RequestLog {
  private entries: LoggedRequest[] = [];
  private counters: Counters = emptyCounters();

  record(entry: LoggedRequest, policy?: string): void {
    this.entries.push(entry);
    if (this.entries.length > MAX_LOG) this.entries.splice(0, this.entries.length - MAX_LOG);
    const c = this.counters;
    c.total++;
    c.byStatus[String(entry.status)] = (c.byStatus[String(entry.status)] ?? 0) + 1;
    c.byEndpoint[entry.endpoint] = (c.byEndpoint[entry.endpoint] ?? 0) + 1;
    if (entry.status === 429) {
      c.rateLimited++;
      if (policy) c.byPolicy[policy] = (c.byPolicy[policy] ?? 0) + 1;
    }
  }

  requests(since = 0): LoggedRequest[] {
    return this.entries.filter((e) => e.at >= since);
  }

  snapshot(): Counters {
    return structuredClone(this.counters);
  }

  resetCounters(): void {
    this.counters = emptyCounters();
    this.entries = [];
  }
}

function emptyCounters(): Counters {
  return { total: 0, byStatus: {}, byEndpoint: {}, rateLimited: 0, byPolicy: {}, since: Date.now() };
}
