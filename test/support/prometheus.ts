import { z } from "zod";
import parsePrometheusTextFormat from "parse-prometheus-text-format";

/** One family as the parser gives it (prom2json's shape): samples, or histogram buckets, count and sum. */
const Family = z.object({
  name: z.string(),
  help: z.string(),
  type: z.string(),
  metrics: z.array(
    z.object({
      labels: z.record(z.string(), z.string()).optional(),
      value: z.string().optional(),
      buckets: z.record(z.string(), z.string()).optional(),
      count: z.string().optional(),
      sum: z.string().optional(),
    }),
  ),
});
export type Family = z.infer<typeof Family>;

export interface Scrape {
  families: Map<string, Family>;
  /** The sample of `name` whose labels include `labels`; several match: their sum; none: undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** A histogram's count and sum (the parser reads histograms without labels only). */
  histogram(name: string): { count: number; sum: number } | undefined;
}

const matches = (have: Record<string, string> | undefined, want: Record<string, string>) => Object.entries(want).every(([k, v]) => have?.[k] === v);

/** GET a /metrics URL and parse it with a Prometheus text-format parser. */
export async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const families = new Map(z.array(Family).parse(parsePrometheusTextFormat(await res.text())).map((f) => [f.name, f]));
  return {
    families,
    value(name, labels = {}) {
      const found = families.get(name)?.metrics.filter((m) => matches(m.labels, labels) && m.value !== undefined) ?? [];
      return found.length ? found.reduce((n, m) => n + Number(m.value), 0) : undefined;
    },
    histogram(name) {
      const h = families.get(name)?.metrics[0];
      return h?.count !== undefined ? { count: Number(h.count), sum: Number(h.sum) } : undefined;
    },
  };
}
