import { describe, expect, it } from "vitest";
import { createSemaphore } from "../src/core/semaphore.ts";

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("createSemaphore", () => {
  it("holds a request until the units it needs are given back, then grants in the order asked", async () => {
    const s = createSemaphore(10);
    const first = await s.acquire(6);
    const granted: string[] = [];
    const big = s.acquire(8).then((r) => (granted.push("big"), r));
    // a small request that would fit now (6 + 3) still waits behind the larger one asked before it
    const small = s.acquire(3).then((r) => (granted.push("small"), r));
    await tick();
    expect(granted).toEqual([]);
    expect(s.held()).toBe(6);
    first();
    const releaseBig = await big;
    await tick();
    expect(granted).toEqual(["big"]);
    expect(s.held()).toBe(8);
    releaseBig();
    (await small)();
    expect(granted).toEqual(["big", "small"]);
    expect(s.held()).toBe(0);
  });

  it("grants a request larger than the whole capacity once nothing else is held, rather than never", async () => {
    const s = createSemaphore(10);
    const other = await s.acquire(3);
    let granted = false;
    const huge = s.acquire(50).then((r) => ((granted = true), r));
    await tick();
    expect(granted).toBe(false);
    other();
    (await huge)();
    expect(granted).toBe(true);
    expect(s.held()).toBe(0);
  });

  it("gives units back once however often release is called", async () => {
    const s = createSemaphore(4);
    const a = await s.acquire(3);
    a();
    a();
    expect(s.held()).toBe(0);
    const b = await s.acquire(4);
    expect(s.held()).toBe(4);
    b();
  });
});
