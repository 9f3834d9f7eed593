import type pg from "pg";
import { propertyColumn } from "../shared/columns.ts";
import { associationsOf } from "../../simulator/associations.ts";
import type { SimulatorControl } from "../../simulator/index.ts";
import { Prng } from "../../simulator/prng.ts";
import type { Store } from "../../simulator/store.ts";

/**
 * The soak's traffic: what HubSpot users (through the simulator's control API, which is neither
 * rate-limited nor faulty — a person in the UI) and SQL users (plain statements on the write-back
 * tables) do to the same portal at the same time, including both sides editing one record.
 * Everything picks its target at random among what exists at that moment, so an edit may meet a
 * record the other side just archived, merged or deleted: that is the point.
 */

/** The synced types, and which ones SQL users may write to. */
export const SOAK_TYPES = ["contacts", "companies", "deals", "tickets"] as const;
export const WRITE_BACK_TYPES = ["contacts", "companies"] as const;
type SoakType = (typeof SOAK_TYPES)[number];
type WriteBackType = (typeof WRITE_BACK_TYPES)[number];

/** Text properties with typed columns in HubSpot's default set, which both sides edit. */
const EDITED: Record<SoakType, string[]> = {
  contacts: ["firstname", "lastname", "jobtitle", "city"],
  companies: ["name", "description", "city"],
  deals: ["dealname", "description"],
  tickets: ["subject", "content"],
};
/** Association pairs both sides change (HubSpot's default type each way). */
const PAIRS: Array<{ a: SoakType; b: SoakType; table: string; aColumn: string; bColumn: string }> = [
  { a: "companies", b: "contacts", table: "hubspot.associations_company_contact", aColumn: "company_id", bColumn: "contact_id" },
  { a: "contacts", b: "deals", table: "hubspot.associations_contact_deal", aColumn: "contact_id", bColumn: "deal_id" },
];

export const CHANGE_KINDS = [
  "hubspot:create",
  "hubspot:edit",
  "hubspot:archive",
  "hubspot:restore",
  "hubspot:merge",
  "hubspot:associate",
  "hubspot:unassociate",
  "sql:insert",
  "sql:update",
  "sql:delete",
  "sql:associate",
  "sql:unassociate",
  "both:same-record",
] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** Relative frequency of each kind: mostly edits, some creates, fewer archives and merges. */
const WEIGHTS: Record<ChangeKind, number> = {
  "hubspot:create": 8,
  "hubspot:edit": 24,
  "hubspot:archive": 3,
  "hubspot:restore": 2,
  "hubspot:merge": 1.5,
  "hubspot:associate": 5,
  "hubspot:unassociate": 3,
  "sql:insert": 8,
  "sql:update": 24,
  "sql:delete": 3,
  "sql:associate": 5,
  "sql:unassociate": 3,
  "both:same-record": 6,
};

export interface ChangeTally {
  made: number;
  /** Nothing to act on at that moment (no archived record to restore, a row deleted meanwhile…). */
  skipped: number;
}

export interface ChangeStats {
  byKind: Record<ChangeKind, ChangeTally>;
  /** Unexpected failures (a SQL error, the control API refusing a valid change), first few kept. */
  errors: number;
  errorExamples: string[];
  /** Records the SQL side inserted and the HubSpot side created, by a marker only they carry (duplicate check). */
  sqlInserted: Record<WriteBackType, number>;
  lastChangeAt: number | null;
}

export interface ChangeContext {
  pool: pg.Pool;
  control: SimulatorControl;
  /** Read-only view of the portal, to pick targets without API calls. */
  store: Store;
  seed: number;
}

/** Markers that let the final check count duplicates of what the SQL side inserted. */
export const SQL_EMAIL_DOMAIN = "soak-sql.test";
export const SQL_COMPANY_PREFIX = "soak-sql-company-";

class Skip extends Error {}

export interface ChangeMaker {
  /** One change of a kind picked by weight; never throws (failures are counted). */
  next(): Promise<ChangeKind>;
  stats(): ChangeStats;
}

export async function createChangeMaker(ctx: ChangeContext): Promise<ChangeMaker> {
  const rng = new Prng(ctx.seed);
  const pick = <T>(xs: readonly T[]): T => {
    if (xs.length === 0) throw new Skip();
    return xs[Math.floor(rng.next() * xs.length)]!;
  };
  let serial = 0;
  const tag = (side: string) => `${side}-${Date.now().toString(36)}-${++serial}`;

  // Columns of the edited properties, resolved once (a property without a typed column is left out).
  const columns = new Map<string, { table: string; column: string }>();
  for (const t of SOAK_TYPES) {
    for (const p of EDITED[t]) {
      const c = await propertyColumn(ctx.pool, t, p).catch(() => null);
      if (c) columns.set(`${t}.${p}`, c);
    }
  }
  const editable = (t: SoakType) => EDITED[t].filter((p) => columns.has(`${t}.${p}`));
  const col = (t: SoakType, p: string) => columns.get(`${t}.${p}`)!;
  const tableOf = (t: WriteBackType) => col(t, t === "contacts" ? "firstname" : "name").table;

  const def = (t: string) => {
    const d = ctx.store.resolveType(t);
    if (!d) throw new Error(`simulator has no ${t}`);
    return d;
  };
  const liveIds = (t: SoakType) => ctx.store.recordList(def(t), false).map((r) => r.id);
  const archivedIds = (t: SoakType) => ctx.store.recordList(def(t), true).map((r) => r.id);
  const isWriteBack = (t: SoakType): t is WriteBackType => (WRITE_BACK_TYPES as readonly string[]).includes(t);
  /** A random local row: its HubSpot id, and the local id write-back gives rows not yet created in HubSpot. */
  const localId = async (t: SoakType, withId = true): Promise<{ id: string | null; local: string | null }> => {
    const { rows } = await ctx.pool.query<{ id: string | null; local: string | null }>(
      `select id, ${isWriteBack(t) ? "_sync_local_id::text" : "null"} as local from ${col(t, editable(t)[0]!).table}
        ${withId ? "where id is not null" : ""} order by random() limit 1`,
    );
    if (!rows[0]) throw new Skip();
    return rows[0];
  };

  const hubspotCreate = async () => {
    const t = pick(SOAK_TYPES);
    const n = tag("hs");
    const props: Record<SoakType, Record<string, string>> = {
      contacts: { email: `${n}@soak-hubspot.test`, firstname: `First ${n}`, lastname: `Last ${n}` },
      companies: { name: `HubSpot company ${n}`, domain: `${n}.soak-hubspot.test` },
      deals: { dealname: `Deal ${n}`, amount: String(rng.int(100, 99_999)) },
      tickets: { subject: `Ticket ${n}`, content: `Opened by ${n}` },
    };
    await ctx.control.createRecord(t, props[t]);
  };
  const hubspotEdit = async (t: SoakType = pick(SOAK_TYPES), id?: string, value?: string, property?: string) => {
    const p = property ?? pick(editable(t));
    await ctx.control.updateRecord(t, id ?? pick(liveIds(t)), { [p]: value ?? `hubspot ${tag("hs")}` });
  };
  const hubspotArchive = async () => {
    const t = pick(SOAK_TYPES);
    if (!(await ctx.control.archiveRecord(t, pick(liveIds(t))))) throw new Skip();
  };
  const hubspotRestore = async () => {
    const t = pick(SOAK_TYPES);
    if (!(await ctx.control.restoreRecord(t, pick(archivedIds(t))))) throw new Skip();
  };
  const hubspotMerge = async () => {
    const t = pick(["contacts", "companies"] as const);
    const ids = liveIds(t);
    const winner = pick(ids);
    const loser = pick(ids);
    if (winner === loser) throw new Skip();
    await ctx.control.mergeRecords(t, winner, loser);
  };
  const hubspotAssociate = async () => {
    const p = pick(PAIRS);
    await ctx.control.associate(p.a, pick(liveIds(p.a)), p.b, pick(liveIds(p.b)));
  };
  const hubspotUnassociate = async () => {
    const p = pick(PAIRS);
    const existing = associationsOf(ctx.store).list(def(p.a).objectTypeId, def(p.b).objectTypeId);
    const a = pick(existing);
    if (!(await ctx.control.unassociate(p.a, String(a.fromId), p.b, String(a.toId)))) throw new Skip();
  };

  const sqlInsert = async () => {
    const t = pick(WRITE_BACK_TYPES);
    const n = tag("pg");
    if (t === "contacts") {
      await ctx.pool.query(`insert into ${tableOf(t)} (email, firstname, lastname) values ($1, $2, $3)`, [`${n}@${SQL_EMAIL_DOMAIN}`, `First ${n}`, `Last ${n}`]);
    } else {
      await ctx.pool.query(`insert into ${tableOf(t)} (name, domain) values ($1, $2)`, [`${SQL_COMPANY_PREFIX}${n}`, `${n}.${SQL_EMAIL_DOMAIN}`]);
    }
    stats.sqlInserted[t]++;
  };
  const sqlUpdate = async (t: WriteBackType = pick(WRITE_BACK_TYPES), id?: string, value?: string, property?: string) => {
    const p = property ?? pick(editable(t));
    const c = col(t, p);
    const v = value ?? `postgres ${tag("pg")}`;
    // A row not yet created in HubSpot (id null) is a fair target too: the change folds into its create.
    const target = id === undefined ? await localId(t, false) : { id, local: null };
    const res = target.id
      ? await ctx.pool.query(`update ${c.table} set ${c.column} = $1 where id = $2`, [v, target.id])
      : await ctx.pool.query(`update ${c.table} set ${c.column} = $1 where _sync_local_id = $2::uuid`, [v, target.local]);
    if (res.rowCount === 0) throw new Skip();
  };
  const sqlDelete = async () => {
    const t = pick(WRITE_BACK_TYPES);
    const r = await localId(t, false);
    const res = await ctx.pool.query(`delete from ${tableOf(t)} where _sync_local_id = $1::uuid`, [r.local]);
    if (res.rowCount === 0) throw new Skip();
  };
  const sqlAssociate = async () => {
    const p = pick(PAIRS);
    const a = await localId(p.a);
    const b = await localId(p.b);
    const res = await ctx.pool.query(
      `insert into ${p.table} (${p.aColumn}, ${p.bColumn}) select $1, $2
        where not exists (select from ${p.table} where ${p.aColumn} = $1 and ${p.bColumn} = $2)`,
      [a.id, b.id],
    );
    if (res.rowCount === 0) throw new Skip();
  };
  const sqlUnassociate = async () => {
    const p = pick(PAIRS);
    const res = await ctx.pool.query(
      `delete from ${p.table} where ctid = (select ctid from ${p.table} where ${p.aColumn} is not null and ${p.bColumn} is not null order by random() limit 1)`,
    );
    if (res.rowCount === 0) throw new Skip();
  };
  /** A HubSpot user and a SQL user change the same property of the same record within a few ms, in either order. */
  const bothSameRecord = async () => {
    const t = pick(WRITE_BACK_TYPES);
    const { id } = await localId(t);
    if (!id || !ctx.store.getRecord(def(t), id) || ctx.store.getRecord(def(t), id)!.archived) throw new Skip();
    const p = pick(editable(t));
    const hs = () => hubspotEdit(t, id, `hubspot ${tag("both")}`, p);
    const sql = () => sqlUpdate(t, id, `postgres ${tag("both")}`, p);
    await Promise.all(rng.next() < 0.5 ? [hs(), sql()] : [sql(), hs()]);
  };

  const run: Record<ChangeKind, () => Promise<void>> = {
    "hubspot:create": hubspotCreate,
    "hubspot:edit": () => hubspotEdit(),
    "hubspot:archive": hubspotArchive,
    "hubspot:restore": hubspotRestore,
    "hubspot:merge": hubspotMerge,
    "hubspot:associate": hubspotAssociate,
    "hubspot:unassociate": hubspotUnassociate,
    "sql:insert": sqlInsert,
    "sql:update": () => sqlUpdate(),
    "sql:delete": sqlDelete,
    "sql:associate": sqlAssociate,
    "sql:unassociate": sqlUnassociate,
    "both:same-record": bothSameRecord,
  };

  const stats: ChangeStats = {
    byKind: Object.fromEntries(CHANGE_KINDS.map((k) => [k, { made: 0, skipped: 0 }])) as Record<ChangeKind, ChangeTally>,
    errors: 0,
    errorExamples: [],
    sqlInserted: { contacts: 0, companies: 0 },
    lastChangeAt: null,
  };
  const total = CHANGE_KINDS.reduce((n, k) => n + WEIGHTS[k], 0);
  const pickKind = (): ChangeKind => {
    let r = rng.next() * total;
    for (const k of CHANGE_KINDS) {
      r -= WEIGHTS[k];
      if (r < 0) return k;
    }
    return "hubspot:edit";
  };

  return {
    async next() {
      const kind = pickKind();
      try {
        await run[kind]();
        stats.byKind[kind].made++;
        stats.lastChangeAt = Date.now();
      } catch (err) {
        if (err instanceof Skip || isGone(err)) {
          stats.byKind[kind].skipped++;
        } else {
          stats.errors++;
          if (stats.errorExamples.length < 10) stats.errorExamples.push(`${kind}: ${err instanceof Error ? err.message : String(err)}`);
        }
        // A half-done "both" change, or a failed statement, still counts as a change in flight.
        stats.lastChangeAt = Date.now();
      }
      return kind;
    },
    stats: () => structuredClone(stats),
  };
}

/** The control API's 404: the record went (archived, merged away) between the pick and the call. */
function isGone(err: unknown): boolean {
  return err instanceof Error && /simulator control \S+ \S+: 404\b/.test(err.message);
}
