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
