import { describe, expect, it } from "vitest";
import { MalformedResponseError, parseAnswerText, parseEach, parseResponse } from "../src/core/hubspot/errors.ts";
import { CrmRecord, ListPage } from "../src/core/hubspot/schemas.ts";
import { recordHash } from "../src/core/pull/upsert.ts";

/**
 * A record's property values are checked in one loop, and an answer whose JSON has no escape for
 * U+0000 or a surrogate skips the walk that cleans strings for PostgreSQL: both are hot in a
 * backfill of records with hundreds of properties. What they accept, refuse and clean stays.
 */
const record = (properties: unknown) => ({ id: "7", properties, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-02T00:00:00Z" });
const page = (properties: unknown) => JSON.stringify({ results: [record(properties)] });
/** As the client reads a page: the envelope, then its records a slice at a time. */
const records = (raw: unknown) => parseEach(CrmRecord, parseResponse(ListPage, raw, "list contacts").results, "list contacts", ["results"]);
const parse = async (text: string) => (await records(parseAnswerText(text)))[0]!.properties;

describe("a page's property values", () => {
  it("are text, or null for none", async () => {
    expect(await parse(page({ email: "a@example.com", phone: null, empty: "" }))).toEqual({ email: "a@example.com", phone: null, empty: "" });
  });

  it("refuse anything else, naming the record and the property", async () => {
    await expect(parse(page({ email: "a@example.com", age: 41 }))).rejects.toThrow(MalformedResponseError);
    await expect(parse(page({ email: "a@example.com", age: 41 }))).rejects.toThrow(/results\.0\.properties\.age: expected text or null, got number/);
    await expect(parse(page(["a"]))).rejects.toThrow(/results\.0\.properties: expected an object of property values, got array/);
    await expect(parse(page(null))).rejects.toThrow(/results\.0\.properties: expected an object of property values, got null/);
    // a later record is named by its own place
    const two = JSON.stringify({ results: [record({ a: "x" }), record({ a: true })] });
    await expect(records(parseAnswerText(two))).rejects.toThrow(/results\.1\.properties\.a: expected text or null, got boolean/);
  });

  it("lose U+0000 and a lone surrogate, which PostgreSQL cannot store, whether or not the rest of the answer needs it", async () => {
    const values = await parse(page({ a: "before\u0000after", b: "lone \ud800 half", c: "pair \ud83d\ude00 kept", d: "\\u0000 as text" }));
    expect(values).toEqual({ a: "beforeafter", b: "lone \ufffd half", c: "pair \ud83d\ude00 kept", d: "\\u0000 as text" });
    // an answer built by the SDK (not from JSON text) is cleaned all the same
    expect((await records({ results: [record({ a: "x\u0000y" })] }))[0]!.properties).toEqual({ a: "xy" });
  });
});

describe("the hash of a record's values", () => {
  it("stays what rows already carry: a new hash would have every unchanged record rewritten at its next read", () => {
    const r = { id: "1", properties: { lastname: "Ørsted", email: "a@example.com", phone: null }, createdAt: "", updatedAt: "", archivedAt: undefined };
    expect(recordHash(r)).toBe("83117fda53bc04f6bb5eb18c9951950e");
    expect(recordHash({ ...r, properties: { phone: null, email: "a@example.com", lastname: "Ørsted" } })).toBe("83117fda53bc04f6bb5eb18c9951950e");
    expect(recordHash({ ...r, properties: { ...r.properties, phone: "" } })).not.toBe("83117fda53bc04f6bb5eb18c9951950e");
  });
});
