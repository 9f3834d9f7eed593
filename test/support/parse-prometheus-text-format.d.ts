// The library ships no types; test/support/prometheus.ts checks what it returns with zod.
declare module "parse-prometheus-text-format" {
  export default function parsePrometheusTextFormat(text: string): unknown;
}
