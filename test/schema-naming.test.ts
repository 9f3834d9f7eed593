import { describe, expect, it } from "vitest";
import { convertValue, pgTypeFor } from "../src/core/schema/mapping.ts";
import { columnNameFor, SYSTEM_COLUMNS, tableNameFor } from "../src/core/schema/naming.ts";

describe("column names", () => {
  it("keep HubSpot's name when it is a fine identifier", () => {
    expect(columnNameFor("firstname", new Set())).toBe("firstname");
    expect(columnNameFor("Annual Revenue (USD)", new Set())).toBe("annual_revenue_usd");
    expect(columnNameFor("2nd_email", new Set())).toBe("p_2nd_email");
  });

  it("never take a system column's name", () => {
    for (const name of [...SYSTEM_COLUMNS, "_sync_local_id", "_sync_error"]) {
      const col = columnNameFor(name, new Set());
      expect(SYSTEM_COLUMNS).not.toContain(col);
      expect(col.startsWith("_sync_")).toBe(false);
    }
  });

  it("fit in 63 bytes with a deterministic hash, and never collide", () => {
    const long = "a_really_long_property_name_that_some_integration_created_".repeat(3);
    const a = columnNameFor(long + "x", new Set());
    const b = columnNameFor(long + "y", new Set([a]));
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(63);
    expect(Buffer.byteLength(b)).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
    expect(columnNameFor(long + "x", new Set())).toBe(a);
    // two properties that snake-case to the same name
    const first = columnNameFor("Deal Size", new Set());
    const second = columnNameFor("deal_size", new Set([first]));
    expect(second).not.toBe(first);
    expect(tableNameFor("x".repeat(100)).length).toBeLessThanOrEqual(63);
  });
});

describe("property types", () => {
  it("map as README.md says (Types)", () => {
    expect(pgTypeFor({ type: "string", fieldType: "text" })).toBe("text");
    expect(pgTypeFor({ type: "number", fieldType: "number" })).toBe("numeric");
    expect(pgTypeFor({ type: "date", fieldType: "date" })).toBe("date");
    expect(pgTypeFor({ type: "datetime", fieldType: "date" })).toBe("timestamptz");
    expect(pgTypeFor({ type: "bool", fieldType: "booleancheckbox" })).toBe("boolean");
    expect(pgTypeFor({ type: "enumeration", fieldType: "checkbox" })).toBe("text[]");
    expect(pgTypeFor({ type: "enumeration", fieldType: "select" })).toBe("text");
  });

  it("convert HubSpot's strings, and give null (never an error) for what does not fit", () => {
    expect(convertValue("12.50", "numeric")).toBe("12.50");
    expect(convertValue("twelve", "numeric")).toBeNull();
    expect(convertValue("", "text")).toBeNull();
    expect(convertValue("1700000000000", "timestamptz")).toBe("2023-11-14T22:13:20.000Z");
    expect(convertValue("2024-02-03T04:05:06.789Z", "timestamptz")).toBe("2024-02-03T04:05:06.789Z");
    expect(convertValue("2024-02-03", "date")).toBe("2024-02-03");
    expect(convertValue("1706918400000", "date")).toBe("2024-02-03");
    expect(convertValue("true", "boolean")).toBe(true);
    expect(convertValue("a;b;;c", "text[]")).toEqual(["a", "b", "c"]);
  });
});
