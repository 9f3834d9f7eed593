import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderFrame } from "../src/cli/commands/status.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { startCli } from "./support/cli.ts";
import { installedDatabase, type TestDatabase } from "./support/database.ts";
import { enableSync } from "./support/worker.ts";

// `hubsync status --watch` keeps hubsync.status on screen, refreshed in place like `watch` does:
// piped, frame after frame of plain text; on a terminal, each frame drawn over the last without
// clearing the screen (which would flicker).

const CLI = fileURLToPath(new URL("../src/cli/hubsync.ts", import.meta.url));
const ESC = "\x1b";

let db: TestDatabase;
beforeAll(async () => {
  db = await installedDatabase("status_watch");
  await enableSync(db.pool, "contacts");
  await enableSync(db.pool, "companies");
  await db.pool.query(`update hubsync.objects set table_name = object_type, phase = 'live', last_pull_at = now() - interval '90 seconds'`);
  await db.pool.query(`create table hubspot.contacts (id text primary key); insert into hubspot.contacts select g::text from generate_series(1, 1234) g`);
  await db.pool.query(`update hubsync.rate_budget set slots = array[clock_timestamp() + interval '1 hour', clock_timestamp() + interval '1 hour'], daily_limit = 250000, daily_remaining = 249100 where bucket = 'general'`);
});
afterAll(async () => {
  await db?.drop();
});

describe("hubsync status --watch", () => {
  it("piped: prints a fresh plain frame each interval, with what changed in between, until Ctrl-C", async () => {
    const cli = startCli(["status", "--watch", "--interval", "0.3"], { DATABASE_URL: db.url });
    try {
      await waitFor("the first frame", async () => (cli.output().includes("budget:") ? true : undefined), { timeoutMs: 30_000, intervalMs: 50, describe: () => cli.output() });
      // a local change waiting to go out: the next frames count it
      await db.pool.query(`insert into hubsync.outbox (object_type, record_id, op) values ('contacts', '1', 'update'), ('contacts', '2', 'update')`);
      await waitFor("a frame with the pending changes", async () => (/^contacts\s.*\s2\s+0\s*$/m.test(cli.output()) ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 50,
        describe: () => cli.output(),
      });
    } finally {
      cli.interrupt();
    }
    expect(await cli.exited).toBe(0);
    const out = cli.output();
    expect(out).not.toContain(ESC);
    const frames = out.split(/\n\n(?=every 0\.3s: hubsync status)/);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    const first = frames[0]!;
    expect(first).toMatch(/^every 0\.3s: hubsync status {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC {2}\(Ctrl-C to stop\)\n\nOBJECT\s+ENABLED\s+WRITE-BACK\s+PHASE\s+ROWS\s+LAST PULL \(UTC\)\s+LAG\s+PENDING\s+REJECTED/);
    expect(first).toMatch(/^contacts\s+yes\s+off\s+live\s+1,234\s+\S+ \S+\s+1m \d\ds\s+0\s+0$/m);
    expect(first).toMatch(/^companies\s+yes\s+off\s+live\s+-\s/m);
    expect(first).toMatch(/^budget: general 2\/90 per 10s, associations 0\/1 per 1s, search 0\/4 per 1s; daily 249,100 of 250,000 left$/m);
    // read afresh each time: the first frame had nothing pending, the last one has the two changes
    expect(first).toMatch(/^contacts\s.*\s0\s+0\s*$/m);
    expect(frames.at(-1)!).toMatch(/^contacts\s.*\s2\s+0\s*$/m);
  }, 60_000);

  it("on a terminal: draws each frame over the last from the top, clearing line ends, not the screen", async () => {
    // `script` gives the command a pseudo-terminal, as a person's terminal would (exec: no shell in
    // between, which would take the Ctrl-C for itself and exit 130)
    const cmd = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} status --watch --interval 0.3`;
    const child = spawn("script", ["-qfec", cmd, "/dev/null"], { env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: db.url, TERM: "xterm" }, stdio: ["pipe", "pipe", "pipe"], detached: true });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      await waitFor("three frames", async () => (out.split(`${ESC}[H`).length >= 4 ? true : undefined), { timeoutMs: 30_000, intervalMs: 50, describe: () => JSON.stringify(out) });
    } finally {
      child.stdin.write("\x03"); // Ctrl-C, typed into the terminal
    }
    expect(await exited, JSON.stringify(out.slice(-1500))).toBe(0);
    // the screen is cleared once, before the first frame; every frame starts at the top left
    expect(out.split(`${ESC}[2J`)).toHaveLength(2);
    const frames = out.split(`${ESC}[H`).slice(1);
    expect(frames.length).toBeGreaterThanOrEqual(3);
    for (const f of frames.slice(1, -1)) {
      // each line is cleared to its end (a shorter value leaves nothing of the longer one), then what is below the frame
      const lines = f.split(/\r?\n/);
      expect(lines[0]).toMatch(/^every 0\.3s: hubsync status .*\(Ctrl-C to stop\)\x1b\[K$/);
      expect(lines.filter((l) => l.startsWith("contacts"))).toHaveLength(1);
      expect(lines.slice(0, -1).every((l) => l.endsWith(`${ESC}[K`))).toBe(true);
      expect(f).toContain(`${ESC}[J`);
    }
    // the cursor is hidden while it runs and given back at the end
    expect(out).toContain(`${ESC}[?25l`);
    expect(out.trimEnd().endsWith(`${ESC}[?25h`)).toBe(true);
  }, 60_000);

  it("renders a frame for a terminal or plain", () => {
    expect(renderFrame(["a", "bb"], false)).toBe("a\nbb\n\n");
    expect(renderFrame(["a", "bb"], true)).toBe(`${ESC}[Ha${ESC}[K\nbb${ESC}[K\n${ESC}[J`);
  });
});
