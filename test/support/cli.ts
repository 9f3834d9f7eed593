import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../src/cli/hubsync.ts", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * One `hubsync …` command in its own process, as a user types it: `node src/cli/hubsync.ts args`
 * with exactly the environment given (plus PATH, HOME and Node's compile cache, see vitest.config.ts), killed
 * if it outlives timeoutMs.
 */
export function runCli(args: string[], env: Record<string, string | undefined>, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE, ...env } as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`hubsync ${args.join(" ")} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface RunningCli {
  child: ReturnType<typeof spawn>;
  /** Everything the command wrote so far, stdout then stderr. */
  output(): string;
  exited: Promise<number | null>;
  /** Ctrl-C in a terminal: SIGINT to the command's whole process group, servers it started included. */
  interrupt(): void;
  /** The pino lines of level 50 (error) and above the command wrote since interrupt(). */
  errorsSinceInterrupt(): string[];
}

/**
 * A long-running `hubsync …` command (worker, webhooks, sync, demo) in a process group of its own,
 * as a shell runs a foreground job, so interrupt() reaches it the way a terminal's Ctrl-C does.
 */
export function startCli(args: string[], env: Record<string, string | undefined>, cwd?: string): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE, ...env } as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    cwd,
  });
  let stdout = "";
  let stderr = "";
  let mark: { stdout: number; stderr: number } | null = null;
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => stdout + stderr,
    exited,
    interrupt() {
      mark = { stdout: stdout.length, stderr: stderr.length };
      process.kill(-child.pid!, "SIGINT");
    },
    errorsSinceInterrupt() {
      const since = mark ? stdout.slice(mark.stdout) + "\n" + stderr.slice(mark.stderr) : stdout + "\n" + stderr;
      return since.split("\n").filter((line) => {
        if (!line.startsWith("{")) return false;
        try {
          return Number((JSON.parse(line) as { level?: unknown }).level) >= 50;
        } catch {
          return false;
        }
      });
    },
  };
}

/** Variables hubsync (and pg, for PG*) reads: set from the given environment only, as in runCli's process. */
const READ_BY_HUBSYNC = /^(DATABASE_URL$|HUBSPOT_|HUBSYNC_|PG)/;

/**
 * The same command run inside this process (src/cli/main.ts, what `hubsync` runs), for the many
 * cases of what a command says when its settings are wrong. Every variable hubsync reads comes
 * from `env` alone for the call; what the command writes to stdout and stderr, the product's log
 * lines included (test/support/quiet-logs.ts sends them through console.error), is captured, and
 * the code is main's, which the `hubsync` process exits with. Starting node costs about a second
 * of CPU per case, so a file with dozens of cases keeps a few real runCli starts for what only a
 * process shows (that it exits, with nothing printed after the line).
 */
export async function runMain(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  const { main } = await import("../../src/cli/main.ts");
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (READ_BY_HUBSYNC.test(k)) delete process.env[k];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) process.env[k] = v;
  let stdout = "";
  let stderr = "";
  const writes = { out: process.stdout.write, err: process.stderr.write, log: console.log, error: console.error };
  const capture = (into: (s: string) => void) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      into(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
      const done = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture((s) => (stdout += s));
  process.stderr.write = capture((s) => (stderr += s));
  console.log = (...a: unknown[]) => (stdout += `${a.join(" ")}\n`);
  console.error = (...a: unknown[]) => (stderr += `${a.join(" ")}\n`);
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = writes.out;
    process.stderr.write = writes.err;
    console.log = writes.log;
    console.error = writes.error;
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}
