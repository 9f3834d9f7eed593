import type pg from "pg";
import { z } from "zod";
import { quoteIdent } from "../../core/schema/naming.ts";

/**
 * The baseline every hubsync figure is printed beside: the script users write by hand. One request
 * at a time, page by page, every property in the URL, one INSERT (autocommit) per row, one PATCH
 * per changed row, and on a 429 "sleep a second and try again". It runs in the bench's process
 * against the same simulator, so the comparison is the code, not the setup.
 */
export interface NaiveHttp {
  request(method: string, path: string, body?: unknown): Promise<unknown>;
  readonly stats: { calls: number; rateLimited: number };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function naiveHttp(baseUrl: string, token: string): NaiveHttp {
  const stats = { calls: 0, rateLimited: 0 };
  return {
    stats,
    async request(method, path, body) {
      for (;;) {
        stats.calls++;
        const res = await fetch(new URL(path, baseUrl), {
          method,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        if (res.status === 429) {
          stats.rateLimited++;
          await res.arrayBuffer();
          await sleep(1_000);
          continue;
        }
        if (!res.ok) throw new Error(`naive script: ${method} ${path.slice(0, 80)} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
        return res.json();
      }
    },
  };
}

const Properties = z.object({ results: z.array(z.object({ name: z.string() })) });
const NaiveRecord = z.object({
  id: z.string(),
  properties: z.record(z.string(), z.string().nullable()),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  associations: z.record(z.string(), z.object({ results: z.array(z.object({ id: z.string(), type: z.string() })) })).optional(),
});
const NaivePage = z.object({
  results: z.array(NaiveRecord),
  paging: z.object({ next: z.object({ after: z.string() }).optional() }).optional(),
});

export interface NaiveRun {
  records: number;
  associations: number;
  calls: number;
  rateLimited: number;
  ms: number;
  /** Rows the script could not insert because the id was already there (a paging bug shows up here). */
  duplicates: number;
}

export const NAIVE_SCHEMA = "naive";

export async function createNaiveTables(pool: pg.Pool, types: string[]): Promise<void> {
  await pool.query(`create schema if not exists ${NAIVE_SCHEMA}`);
  for (const t of types) {
    await pool.query(
      `create table if not exists ${NAIVE_SCHEMA}.${quoteIdent(t)} (id text primary key, properties jsonb not null, created_at timestamptz, updated_at timestamptz)`,
    );
  }
  await pool.query(`create table if not exists ${NAIVE_SCHEMA}.associations (from_type text, from_id text, to_type text, to_id text, type text)`);
}

async function propertyNames(http: NaiveHttp, type: string): Promise<string[]> {
  return Properties.parse(await http.request("GET", `/crm/v3/properties/${type}`)).results.map((p) => p.name);
}

/** The URL a hand-written script builds: every property, and the associations it wants embedded. */
function listPath(type: string, props: string[], assoc: string[], after: string | undefined): string {
  const q = new URLSearchParams({ limit: "100" });
  q.set("properties", props.join(","));
  if (assoc.length) q.set("associations", assoc.join(","));
  if (after) q.set("after", after);
  return `/crm/v3/objects/${type}?${q.toString()}`;
}

function recordPath(type: string, id: string, props: string[]): string {
  return `/crm/v3/objects/${type}/${id}?${new URLSearchParams({ properties: props.join(",") }).toString()}`;
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === "23505";

/**
 * Full copy, the naive way: GET list pages with every property (and the associations to the types
 * that follow in `types`, embedded), one INSERT per record and per association.
 */
export async function naiveBackfill(pool: pg.Pool, http: NaiveHttp, types: string[]): Promise<NaiveRun> {
  const started = Date.now();
  const before = { ...http.stats };
  await createNaiveTables(pool, types);
  let records = 0;
  let associations = 0;
  let duplicates = 0;
  for (const [i, type] of types.entries()) {
    const props = await propertyNames(http, type);
    const assoc = types.slice(i + 1);
    let after: string | undefined;
    do {
      const page = NaivePage.parse(await http.request("GET", listPath(type, props, assoc, after)));
      for (const r of page.results) {
        try {
          await pool.query(`insert into ${NAIVE_SCHEMA}.${quoteIdent(type)} (id, properties, created_at, updated_at) values ($1, $2, $3, $4)`, [
            r.id,
            JSON.stringify(r.properties),
            r.createdAt ?? null,
            r.updatedAt ?? null,
          ]);
          records++;
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          duplicates++;
        }
        for (const [toType, list] of Object.entries(r.associations ?? {})) {
          for (const a of list.results) {
            await pool.query(`insert into ${NAIVE_SCHEMA}.associations (from_type, from_id, to_type, to_id, type) values ($1, $2, $3, $4, $5)`, [
              type,
              r.id,
              toType,
              a.id,
              a.type,
            ]);
            associations++;
          }
        }
      }
      after = page.paging?.next?.after;
    } while (after);
  }
  return {
    records,
    associations,
    duplicates,
    calls: http.stats.calls - before.calls,
    rateLimited: http.stats.rateLimited - before.rateLimited,
    ms: Date.now() - started,
  };
}

/**
 * Incremental pull, the naive way: search each type for last-modified ≥ since, every property,
 * 100 per page, one upsert per row. When the property list does not fit in a search body
 * (HubSpot's 3,000 characters: any realistic catalog) the search asks for ids only and each record
 * is read with a GET carrying every property, one call per record.
 */
export async function naiveIncremental(
  pool: pg.Pool,
  http: NaiveHttp,
  types: Array<{ type: string; lastModified: string }>,
  sinceMs: number,
): Promise<NaiveRun> {
  const started = Date.now();
  const before = { ...http.stats };
  let records = 0;
  for (const { type, lastModified } of types) {
    const props = await propertyNames(http, type);
    let after: string | undefined;
    do {
      const body = {
        filterGroups: [{ filters: [{ propertyName: lastModified, operator: "GTE", value: String(sinceMs) }] }],
        sorts: [{ propertyName: lastModified, direction: "ASCENDING" }],
        properties: props,
        limit: 100,
        ...(after ? { after } : {}),
      };
      const fits = JSON.stringify(body).length <= 3_000;
      const found = NaivePage.parse(await http.request("POST", `/crm/v3/objects/${type}/search`, fits ? body : { ...body, properties: [lastModified] }));
      const rows = fits ? found.results : [];
      if (!fits) for (const hit of found.results) rows.push(NaiveRecord.parse(await http.request("GET", recordPath(type, hit.id, props))));
      for (const r of rows) {
        await pool.query(
          `insert into ${NAIVE_SCHEMA}.${quoteIdent(type)} (id, properties, created_at, updated_at) values ($1, $2, $3, $4)
           on conflict (id) do update set properties = excluded.properties, updated_at = excluded.updated_at`,
          [r.id, JSON.stringify(r.properties), r.createdAt ?? null, r.updatedAt ?? null],
        );
        records++;
      }
      after = found.paging?.next?.after;
    } while (after);
  }
  return { records, associations: 0, duplicates: 0, calls: http.stats.calls - before.calls, rateLimited: http.stats.rateLimited - before.rateLimited, ms: Date.now() - started };
}

export interface NaivePushRun extends NaiveRun {
  /** When each row's UPDATE committed (ms), to set against the simulator's modification time. */
  committedAt: Map<string, number>;
}

/**
 * Write-back, the naive way: the application commits its UPDATEs and a loop sends one PATCH per
 * changed row, in commit order, as fast as the rate limit lets it. Same commit stream as hubsync's
 * (batches of `batchSize` rows every `intervalMs`).
 */
export async function naivePush(
  pool: pg.Pool,
  http: NaiveHttp,
  opts: { type: string; property: string; ids: string[]; value: (id: string) => string; batchSize: number; intervalMs: number },
): Promise<NaivePushRun> {
  const started = Date.now();
  const before = { ...http.stats };
  const committedAt = new Map<string, number>();
  const queue: string[] = [];
  let producing = true;
  const producer = (async () => {
    for (let i = 0; i < opts.ids.length; i += opts.batchSize) {
      const batch = opts.ids.slice(i, i + opts.batchSize);
      const tick = Date.now();
      await pool.query(
        `update ${NAIVE_SCHEMA}.${quoteIdent(opts.type)} set properties = properties || jsonb_build_object($2::text, $3::text) where id = any($1)`,
        [batch, opts.property, "naive"],
      );
      const at = Date.now();
      for (const id of batch) {
        committedAt.set(id, at);
        queue.push(id);
      }
      if (i + opts.batchSize < opts.ids.length) await sleep(Math.max(0, opts.intervalMs - (Date.now() - tick)));
    }
    producing = false;
  })();
  let sent = 0;
  while (producing || queue.length) {
    const id = queue.shift();
    if (id === undefined) {
      await sleep(5);
      continue;
    }
    await http.request("PATCH", `/crm/v3/objects/${opts.type}/${id}`, { properties: { [opts.property]: opts.value(id) } });
    sent++;
  }
  await producer;
  return {
    records: sent,
    associations: 0,
    duplicates: 0,
    calls: http.stats.calls - before.calls,
    rateLimited: http.stats.rateLimited - before.rateLimited,
    ms: Date.now() - started,
    committedAt,
  };
}
