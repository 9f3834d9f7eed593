import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SyncContext } from "../src/core/context.ts";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { cycleObject } from "../src/core/pull/cycle.ts";
import { pullIncremental } from "../src/core/pull/incremental.ts";
import { runPush } from "../src/core/push/run.ts";
import { quoteIdent } from "../src/core/schema/naming.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { connectWorker, quietLog } from "./support/worker.ts";

/**
 * Property names and values crafted as SQL injection, and hostile object type names: identifiers
 * are always quoted and values always parameters, so the tables stay intact and every value makes
 * the round trip unchanged, HubSpot → Postgres and Postgres → HubSpot.
 */

let db: TestDatabase;
let sim: RunningSimulator;
let w: ReturnType<typeof connectWorker>;
let ctx: SyncContext;

const HOSTILE_NAMES = [`x"; drop table hubspot.contacts; --`, `y'); drop table hubsync.objects; --`, `z\\"$1%s%I%L`];
/** Not selected as a column: lives only in properties jsonb, and is sent from there. */
const HOSTILE_JSONB = `w" = null; truncate hubsync.outbox; --`;
const HOSTILE_VALUES = [
  `'; drop table hubspot.contacts; --`,
  `"); delete from hubsync.outbox; --`,
  `O'Brien "the" \\backslash\\ $$dollar$$ $1 %s %I %L`,
  `line\nbreak\ttab \u2028 unicode ✓ 🎉`,
  `\\x00 \\u0000 (escaped, not NUL)`,
];
const tablesIntact = async () => {
  const { rows } = await db.pool.query(
    `select to_regclass('hubspot.contacts') is not null as contacts, to_regclass('hubsync.objects') is not null as objects,
            (select count(*)::int from hubsync.objects) as objects_rows, (select count(*)::int from hubspot.contacts) as contact_rows`,
  );
  return rows[0];
};

beforeAll(async () => {
  db = await installedDatabase("bad_injection");
  sim = await startSimulator({ rateLimits: false });
  for (const name of [...HOSTILE_NAMES, HOSTILE_JSONB]) {
    await sim.control.createProperty("contacts", { name, label: name, type: "string", fieldType: "text", groupName: "contactinformation" });
  }
  for (let i = 0; i < HOSTILE_VALUES.length; i++) {
    await sim.control.createRecord("contacts", { email: `i${i}@example.com`, firstname: HOSTILE_VALUES[i]!, [HOSTILE_NAMES[i % HOSTILE_NAMES.length]!]: HOSTILE_VALUES[i]! });
  }
  w = connectWorker(db.url, sim);
  ctx = { pool: w.pool, hubspot: w.hubspot, log: quietLog };
  await db.pool.query(`select hubsync.enable_sync('contacts', $1::text[], true)`, [["email", "firstname", ...HOSTILE_NAMES]]);
  const c = await cycleObject(w, "contacts", { archived: false });
  expect(c.error).toBeUndefined();
});

afterAll(async () => {
  await w?.close();
  await sim?.close();
  await db?.drop();
});

async function columnOf(property: string): Promise<string> {
  const { rows } = await db.pool.query(`select column_name from hubsync.columns where object_type = 'contacts' and property_name = $1`, [property]);
  expect(rows.length, property).toBe(1);
  return rows[0].column_name;
}

describe("SQL injection through HubSpot names and values", () => {
  it("hostile property names become quoted columns; hostile values arrive unchanged", async () => {
    expect(await tablesIntact()).toEqual({ contacts: true, objects: true, objects_rows: 1, contact_rows: HOSTILE_VALUES.length });
    for (let i = 0; i < HOSTILE_VALUES.length; i++) {
      const name = HOSTILE_NAMES[i % HOSTILE_NAMES.length]!;
      const column = await columnOf(name);
      const { rows } = await db.pool.query(`select firstname, ${quoteIdent(column)} as hostile, properties ->> $2 as raw from hubspot.contacts where email = $1`, [
        `i${i}@example.com`,
        name,
      ]);
      expect(rows[0]).toEqual({ firstname: HOSTILE_VALUES[i], hostile: HOSTILE_VALUES[i], raw: HOSTILE_VALUES[i] });
    }
  });

  it("hostile values written in SQL reach HubSpot unchanged, in typed columns and in properties jsonb", async () => {
    const hostileColumn = await columnOf(HOSTILE_NAMES[0]!);
    const otherColumn = await columnOf(HOSTILE_NAMES[1]!);
    for (let i = 0; i < HOSTILE_VALUES.length; i++) {
      const v = `${HOSTILE_VALUES[i]} (from SQL)`;
      await db.pool.query(
        `update hubspot.contacts set firstname = $1, ${quoteIdent(hostileColumn)} = $1, ${quoteIdent(otherColumn)} = $1,
                properties = properties || jsonb_build_object($2::text, $1::text) where email = $3`, [
        v,
        HOSTILE_JSONB,
        `i${i}@example.com`,
      ]);
    }
    await db.pool.query(`insert into hubspot.contacts (email, firstname) values ($1, $2)`, [`new'); drop table hubspot.contacts; --@example.com`, HOSTILE_VALUES[0]]);
    const result = await runPush(ctx, "contacts", { coalesceMs: 0 });
    expect(result.rejected).toBe(1); // the e-mail address is not one HubSpot takes; the rest goes
    expect(result.sent).toBe(HOSTILE_VALUES.length);
    const records = await sim.control.listRecords("contacts");
    for (let i = 0; i < HOSTILE_VALUES.length; i++) {
      const r = records.find((x) => x.properties.email === `i${i}@example.com`)!;
      const v = `${HOSTILE_VALUES[i]} (from SQL)`;
      expect(r.properties.firstname).toBe(v);
      expect(r.properties[HOSTILE_NAMES[0]!]).toBe(v);
      expect(r.properties[HOSTILE_NAMES[1]!]).toBe(v);
      expect(r.properties[HOSTILE_JSONB]).toBe(v);
    }
    const outbox = await db.pool.query(`select status, error_message from hubsync.outbox where status = 'rejected'`);
    expect(outbox.rows[0].error_message).toMatch(/Email address/);
    expect(await tablesIntact()).toMatchObject({ contacts: true, objects: true, objects_rows: 1 });

    // and back: a pull finds nothing to change (what HubSpot holds is what the table holds)
    const pulled = await pullIncremental(w, "contacts");
    expect(pulled.details?.updated ?? 0).toBe(0);
  });

  it("hostile object type names are refused by enable_sync and friends before any SQL is built from them", async () => {
    const names = [
      `contacts; drop table hubsync.objects; --`,
      `x"y`,
      `robert'); drop table hubspot.contacts; --`,
      `pg_catalog.pg_class`,
      `../../etc/passwd`,
      `a`.repeat(64),
      `Contacts`,
      ``,
    ];
    for (const name of names) {
      for (const fn of ["enable_sync", "disable_sync", "resync", "enable_write_back"]) {
        const err = await db.pool.query(`select hubsync.${fn}($1)`, [name]).then(
          () => null,
          (e: { code?: string; message: string }) => e,
        );
        expect(err, `${fn}(${JSON.stringify(name)})`).not.toBeNull();
        expect(err!.code, `${fn}(${JSON.stringify(name)}): ${err!.message}`).toBe("22023");
      }
    }
    expect(await tablesIntact()).toMatchObject({ contacts: true, objects: true, objects_rows: 1 });
  });

  it("a HubSpot value holding U+0000 or a lone surrogate (which PostgreSQL cannot store) arrives without it; the rest of its page too", async () => {
    const nul = await sim.control.createRecord("contacts", { email: "nul@example.com", firstname: "before\u0000after", lastname: "lone \ud800 half", [HOSTILE_JSONB]: "\u0000" });
    const beside = await sim.control.createRecord("contacts", { email: "beside-nul@example.com", firstname: "Beside" });
    const run = await pullIncremental(w, "contacts");
    expect(run.records).toBeGreaterThanOrEqual(2);
    const { rows } = await db.pool.query(`select id, firstname, properties ->> 'lastname' as lastname, properties ->> $1 as loose from hubspot.contacts where id = any ($2) order by email desc`, [
      HOSTILE_JSONB,
      [nul.id, beside.id],
    ]);
    expect(rows).toEqual([
      { id: nul.id, firstname: "beforeafter", lastname: "lone \ufffd half", loose: "" },
      { id: beside.id, firstname: "Beside", lastname: null, loose: null },
    ]);
    // and the next pull does not see a change in it (the stored copy is stable)
    const again = await pullIncremental(w, "contacts");
    expect(again.details?.inserted ?? 0).toBe(0);
    expect(again.details?.updated ?? 0).toBe(0);
  });
});
