import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

/**
 * A bench stopped by Ctrl-C or a supervisor used to leave the PostgreSQL it started running: its
 * clean-up sits in a finally that a signal never reaches.
 */
const cwd = mkdtempSync(join(tmpdir(), "hubsync-bench-signal-"));
chmodSync(cwd, 0o755); // as root, PostgreSQL runs as user postgres, which must reach ./.hubsync/bench
const cli = resolve("src/cli/hubsync.ts");

afterAll(() => rmSync(cwd, { recursive: true, force: true }));

/** Processes whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      // pid (comm) state ppid …: comm may hold spaces, so read after its closing parenthesis
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");

describe("hubsync bench stopped by a signal", () => {
  it("takes the PostgreSQL it started down with it, and exits with the signal's status", async () => {
    const child = spawn(process.execPath, [cli, "bench", "--quick", "--out", join(cwd, "out")], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    // PostgreSQL is up once the bench moves on to its first scenario
    const deadline = Date.now() + 90_000;
    let postgres: number[] = [];
    while (Date.now() < deadline) {
      postgres = childrenOf(child.pid!).filter((p) => /postgres/.test(readFileSync(`/proc/${p}/cmdline`, "utf8")));
      if (postgres.length > 0 && /\[pro\]/.test(out)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(postgres.length, out).toBeGreaterThan(0);
    child.kill("SIGTERM");
    expect(await exited).toBe(143);
    expect(out).toContain("SIGTERM: stopping PostgreSQL");
    expect(postgres.filter(alive)).toEqual([]);
  }, 120_000);
});
