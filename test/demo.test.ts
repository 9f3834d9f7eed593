import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startCli } from "./support/cli.ts";

const cwd = mkdtempSync(join(tmpdir(), "hubsync-demo-test-"));
chmodSync(cwd, 0o755); // as root, PostgreSQL runs as user postgres, which must reach ./.hubsync/demo
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

/** `hubsync demo` as a new user runs it: no DATABASE_URL, no token; embedded PostgreSQL under ./.hubsync/demo. */
function demo(args: string[]) {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.HUBSPOT_ACCESS_TOKEN;
  delete env.HUBSPOT_BASE_URL;
  delete env.HUBSYNC_DEMO_EXIT;
  const cli = startCli(["demo", "--records", "400", "--tier", "pro", "--latency", "1-5", ...args], env, cwd);
  let stdout = "";
  let stderr = "";
  cli.child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  cli.child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return { ...cli, out: () => stdout, err: () => stderr };
}

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("hubsync demo", () => {
  it("backfills, round-trips a change each way, prints a summary, and stops everything on Ctrl-C", async () => {
    const d = demo([]);
    await until("the demo to be ready", () => d.out().includes("Ctrl-C stops everything") || d.child.exitCode !== null, 90_000);
    const out = d.out();
    expect(out, d.err()).toContain("Ctrl-C stops everything");
    expect(out).toContain("select hubsync.enable_sync('contacts', write_back => true);");
    expect(out).toMatch(/contacts\s.*live/);
    expect(out).toMatch(/→ HubSpot \(simulator\) has firstname = 'Ada'/);
    expect(out).toMatch(/says 'Grace'/);
    expect(out).toMatch(/hubspot\.contacts\s+[\d,]+ rows/);
    expect(out).toMatch(/API calls [\d,]+ \([\d.]+ per record\) · 429s 0/);
    expect(out).toMatch(/psql 'postgres:\/\/postgres:hubsync@127\.0\.0\.1:\d+\/hubsync_demo'/);
    expect(out).not.toContain("\x1b["); // not a terminal: plain progress lines
    // Ctrl-C reaches the demo's PostgreSQL too unless it runs in a process group of its own: it
    // would shut down under the running worker, which then logs errors a person gets paged for
    d.interrupt();
    expect(await d.exited).toBe(0);
    expect(d.out()).toContain("stopped.");
    expect(d.errorsSinceInterrupt()).toEqual([]);
    // the embedded server's data is gone: a second run starts from nothing
    expect(readdirSync(join(cwd, ".hubsync", "demo"))).toEqual([]);
  }, 120_000);

  it("--exit stops after the summary (CI)", async () => {
    const d = demo(["--exit"]);
    expect(await Promise.race([d.exited, new Promise((r) => setTimeout(() => r("timeout"), 90_000))])).toBe(0);
    expect(d.out()).toContain("summary:");
    expect(existsSync(join(cwd, ".hubsync", "demo"))).toBe(true);
  }, 120_000);
});
