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
 * with exactly the environment given (plus PATH/HOME), killed if it outlives timeoutMs.
 */
export function runCli(args: string[], env: Record<string, string | undefined>, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } as NodeJS.ProcessEnv,
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
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } as NodeJS.ProcessEnv,
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
