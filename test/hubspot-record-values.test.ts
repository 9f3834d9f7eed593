import { describe, expect, it } from "vitest";
import { MalformedResponseError, parseAnswerText, parseResponse } from "../src/core/hubspot/errors.ts";
import { ListPage } from "../src/core/hubspot/schemas.ts";
import { recordHash } from "../src/core/pull/upsert.ts";

/**
 * A record's property values are checked in one loop, and an answer whose JSON has no escape for
 * U+0000 or a surrogate skips the walk that cleans strings for PostgreSQL: both are hot in a
 * backfill of records with hundreds of properties. What they accept, refuse and clean stays.
 */
const record = (properties: unknown) => ({ id: "7", properties, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-02T00:00:00Z" });
const page = (properties: unknown) => JSON.stringify({ results: [record(properties)] });
const parse = (text: string) => parseResponse(ListPage, parseAnswerText(text), "list contacts");

describe("a page's property values", () => {
  it("are text, or null for none", () => {
    expect(parse(page({ email: "a@example.com", phone: null, empty: "" })).results[0]!.properties).toEqual({ email: "a@example.com", phone: null, empty: "" });
  });

  it("refuse anything else, naming the record and the property", () => {
    expect(() => parse(page({ email: "a@example.com", age: 41 }))).toThrow(MalformedResponseError);
    expect(() => parse(page({ email: "a@example.com", age: 41 }))).toThrow(/results\.0\.properties\.age: expected text or null, got number/);
    expect(() => parse(page(["a"]))).toThrow(/results\.0\.properties: expected an object of property values, got array/);
    expect(() => parse(page(null))).toThrow(/results\.0\.properties: expected an object of property values, got null/);
  });

  it("lose U+0000 and a lone surrogate, which PostgreSQL cannot store, whether or not the rest of the answer needs it", () => {
    const values = parse(page({ a: "before\u0000after", b: "lone \ud800 half", c: "pair \ud83d\ude00 kept", d: "\\u0000 as text" })).results[0]!.properties;
    expect(values).toEqual({ a: "beforeafter", b: "lone \ufffd half", c: "pair \ud83d\ude00 kept", d: "\\u0000 as text" });
    // an answer built by the SDK (not from JSON text) is cleaned all the same
    expect(parseResponse(ListPage, { results: [record({ a: "x\u0000y" })] }, "list contacts").results[0]!.properties).toEqual({ a: "xy" });
  });
});

describe("the hash of a record's values", () => {
  it("stays what rows already carry: a new hash would have every unchanged record rewritten at its next read", () => {
    const r = { id: "1", properties: { lastname: "Ørsted", email: "a@example.com", phone: null }, createdAt: "", updatedAt: "" };
    expect(recordHash(r)).toBe("83117fda53bc04f6bb5eb18c9951950e");
    expect(recordHash({ ...r, properties: { phone: null, email: "a@example.com", lastname: "Ørsted" } })).toBe("83117fda53bc04f6bb5eb18c9951950e");
    expect(recordHash({ ...r, properties: { ...r.properties, phone: "" } })).not.toBe("83117fda53bc04f6bb5eb18c9951950e");
  });
});
