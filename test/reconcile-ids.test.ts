import { describe, expect, it } from "vitest";
import { IdList } from "../src/core/pull/reconcile.ts";

/** The ids a reconcile listed, held compactly: what the table lacks and has too many of must come out as with a Set. */
describe("reconcile's id list", () => {
  it("finds the listed ids the table has, and gives back those it lacks", () => {
    const ids = new IdList();
    for (const id of ["30", "4", "1000000000001", "7", "30"]) ids.add(id);
    ids.seal();
    expect(ids.size).toBe(4);
    expect(["4", "30", "5", "04", "7.0"].map((id) => ids.mark(id))).toEqual([true, true, false, false, false]);
    expect(ids.unmarked()).toEqual(["7", "1000000000001"]);
  });

  it("keeps ids that are not plain integers as they are", () => {
    const ids = new IdList();
    for (const id of ["12", "0012", "abc", "99999999999999999999"]) ids.add(id);
    ids.seal();
    expect(ids.mark("abc")).toBe(true);
    expect(ids.mark("12")).toBe(true);
    expect(ids.unmarked().sort()).toEqual(["0012", "99999999999999999999"]);
  });

  it("answers for a million ids", () => {
    const ids = new IdList();
    for (let i = 1; i <= 1_000_000; i++) ids.add(String(i * 3));
    ids.seal();
    expect(ids.mark("2999997")).toBe(true);
    expect(ids.mark("2999998")).toBe(false);
    expect(ids.unmarked()).toHaveLength(999_999);
  });
});
