import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { runCli } from "./support/cli.ts";

/**
 * `hubsync worker` gives itself a heap limit (HUBSYNC_MAX_HEAP_MB, 256 MB by default) by starting
 * again in place with V8's flags: the process an operator started (same pid) is the one that runs
 * with the limit, and says so in its log.
 */

const CLI = new URL("../src/cli/hubsync.ts", import.meta.url).pathname;
let db: TestDatabase;
let sim: RunningSimulator;

beforeAll(async () => {
  db = await installedDatabase("worker_heap");
  sim = await startSimulator({ rateLimits: false });
});
afterAll(async () => {
  await db?.drop();
  await sim?.close();
});

/** Starts `hubsync worker`, reads the heap limit it logs, stops it; the pid it logged, its environment once running, and its exit code too. */
async function heapOfWorker(
  extraEnv: Record<string, string>,
): Promise<{ heapLimitMb: number; loggedPid: number; pid: number; code: number | null; env: Record<string, string> }> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: db.url,
    HUBSPOT_BASE_URL: sim.url,
    HUBSPOT_ACCESS_TOKEN: sim.token,
    HUBSYNC_LOG_LEVEL: "info",
    ...extraEnv,
  };
  const proc = spawn(process.execPath, [CLI, "worker"], { env: env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout.on("data", (b: Buffer) => (out += b.toString()));
  proc.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  try {
    const line = await waitFor(
      "the worker to log its heap limit",
      async () => out.split("\n").find((l) => l.includes('"heapLimitMb"')),
      { timeoutMs: 30_000, intervalMs: 50, describe: () => out.slice(-2000) },
    );
    const parsed = JSON.parse(line) as { heapLimitMb: number; pid: number };
    await waitFor("the worker to start", async () => (out.includes("worker started") ? true : undefined), { timeoutMs: 30_000, intervalMs: 50, describe: () => out.slice(-2000) });
    // the environment the running worker got (after it started again with its limits)
    const environ = Object.fromEntries(
      readFileSync(`/proc/${proc.pid}/environ`, "utf8")
        .split("\0")
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    );
    proc.kill("SIGTERM");
    return { heapLimitMb: parsed.heapLimitMb, loggedPid: parsed.pid, pid: proc.pid!, code: await exited, env: environ };
  } finally {
    proc.kill("SIGKILL");
  }
}

describe("hubsync worker's heap limit", () => {
  it("runs with HUBSYNC_MAX_HEAP_MB as V8's heap limit, in the process that was started", async () => {
    const w = await heapOfWorker({ HUBSYNC_MAX_HEAP_MB: "160" });
    expect(w.heapLimitMb).toBe(160);
    // replaced in place: no parent left forwarding signals, and the graceful stop still works
    expect(w.loggedPid).toBe(w.pid);
    expect(w.code).toBe(0);
  });

  it("sets 256 MB when nothing is configured, and leaves a limit in NODE_OPTIONS or HUBSYNC_MAX_HEAP_MB=0 to Node", async () => {
    expect((await heapOfWorker({})).heapLimitMb).toBe(256);
    // Node's own limit with --max-old-space-size=600: the old space plus the young generation it sizes itself
    const fromNodeOptions = await heapOfWorker({ NODE_OPTIONS: "--max-old-space-size=600" });
    expect(fromNodeOptions.heapLimitMb).toBeGreaterThan(600);
    const own = await heapOfWorker({ HUBSYNC_MAX_HEAP_MB: "0" });
    expect(own.heapLimitMb).not.toBe(256);
  });

  it("runs with glibc's malloc held to two arenas and a fixed mmap threshold, unless the operator chose other values", async () => {
    const w = await heapOfWorker({});
    expect(w.env).toMatchObject({ MALLOC_ARENA_MAX: "2", MALLOC_MMAP_THRESHOLD_: "131072" });
    const chosen = await heapOfWorker({ MALLOC_ARENA_MAX: "4" });
    expect(chosen.env).toMatchObject({ MALLOC_ARENA_MAX: "4", MALLOC_MMAP_THRESHOLD_: "131072" });
  });

  it("refuses a value that is not a number of megabytes, or too small to run, in one line", async () => {
    for (const bad of ["lots", "64", "200.5"]) {
      const r = await runCli(["worker"], { DATABASE_URL: db.url, HUBSPOT_BASE_URL: sim.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSYNC_MAX_HEAP_MB: bad });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim()).toBe(`hubsync: HUBSYNC_MAX_HEAP_MB must be a whole number of megabytes, at least 96 (or 0 for Node's own limit), got "${bad}"`);
    }
  });
});
