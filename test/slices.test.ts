import { describe, expect, it } from "vitest";
import { parseEach, parseResponse } from "../src/core/hubspot/errors.ts";
import { CrmRecord, ListPage } from "../src/core/hubspot/schemas.ts";
import { mapInSlices } from "../src/core/slices.ts";

/**
 * The worker's jobs share one event loop: a page of records checked in one go held up every push
 * and webhook waiting behind it. What waits on the loop gets turns while a long loop over records runs.
 */

/** Counts the event loop's turns until stopped (a setImmediate that queues itself again). */
function countTurns() {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return () => {
    running = false;
    return turns;
  };
}

const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe("long loops over records", () => {
  it("give the event loop back every few milliseconds, and keep their order and results", async () => {
    const stop = countTurns();
    const out = await mapInSlices([...Array(60).keys()], (n) => {
      busy(1);
      return n * 2;
    });
    const turns = stop();
    expect(out).toEqual([...Array(60).keys()].map((n) => n * 2));
    // 60 ms of work in slices of about 4 ms: other work got a turn between most of them
    expect(turns).toBeGreaterThanOrEqual(5);
  });

  it("checking a page of 300 records with 400 properties each lets other work run meanwhile", async () => {
    const properties = Object.fromEntries([...Array(400).keys()].map((i) => [`property_${i}`, `value ${i} of a record`]));
    const raw = { results: [...Array(300).keys()].map((i) => ({ id: String(i + 1), properties, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-02T00:00:00Z" })), paging: null };
    const stop = countTurns();
    const records = await parseEach(CrmRecord, parseResponse(ListPage, raw, "list contacts").results, "list contacts", ["results"]);
    const turns = stop();
    expect(records).toHaveLength(300);
    expect(records[299]!.properties.property_399).toBe("value 399 of a record");
    expect(turns).toBeGreaterThanOrEqual(2);
  });
});
