import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { COMMANDS, main } from "../src/cli/main.ts";
import { runCli } from "./support/cli.ts";

// Every command parses its argv with the one options parser (src/cli/options.ts) before it reads
// the environment, so none needs a database or a token to answer these. main() runs in this
// process (loading each command's modules once); one case runs the real `hubsync` process to
// show main's answer is the process's exit status.
const names = Object.keys(COMMANDS);

async function hubsync(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** The options a usage text names in its synopsis (`[--port N]`, `[--webhooks]`). */
function synopsisFlags(usage: string): string[] {
  const synopsis = usage.split("\n\n")[0]!;
  return [...new Set([...synopsis.matchAll(/\[(--[a-z-]+)/g)].map((m) => m[1]!))];
}

const savedEnv = { ...process.env };
beforeEach(() => {
  // nothing here may depend on a database or a token being configured
  for (const k of ["DATABASE_URL", "HUBSPOT_ACCESS_TOKEN", "HUBSPOT_BASE_URL", "HUBSPOT_WEBHOOK_SECRET", "HUBSYNC_WORKER_CONCURRENCY", "HUBSYNC_DEMO_RECORDS", "HUBSYNC_DEMO_EXIT"]) {
    delete process.env[k];
  }
});
afterEach(() => {
  process.env = { ...savedEnv };
});

describe("hubsync <command> --help and bad options", () => {
  it("lists every command with its summary in the top-level usage", async () => {
    expect(names).toEqual(expect.arrayContaining(["install", "worker", "webhooks", "sync", "status", "push", "simulator", "demo", "bench", "soak"]));
    const r = await hubsync(["--help"]);
    expect(r.code).toBe(0);
    for (const name of names) expect(r.stdout).toMatch(new RegExp(`\\n  ${name} +${COMMANDS[name]!.summary.replace(/[()]/g, "\\$&")}\\n`));
    expect(r.stdout).toContain("hubsync <command> --help");
  });

  it.each(names)("%s --help prints its usage and explains each of its options (exit 0)", async (name) => {
    const r = await hubsync([name, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    // doctor takes no options: its usage is its name and what it checks
    const takesNone = name === "doctor";
    expect(r.stdout).toMatch(new RegExp(`^usage: hubsync ${name}${takesNone ? "\\n" : " \\[--"}`));
    const flags = synopsisFlags(r.stdout);
    expect(flags.length > 0).toBe(!takesNone);
    for (const flag of flags) expect(r.stdout, `${name} --help explains ${flag}`).toMatch(new RegExp(`\\n {2}${flag}\\b`));
  });

  it.each(names)("%s --bogus prints one line naming the option, then the usage (exit 2)", async (name) => {
    const help = await hubsync([name, "-h"]);
    const r = await hubsync([name, "--bogus"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const [first, ...rest] = r.stderr.split("\n");
    expect(first).toBe(`hubsync ${name}: Unknown option '--bogus'`);
    expect(rest.join("\n")).toBe(help.stdout);
  });

  it.each([
    [["worker", "--concurrency", "many"], "--concurrency"],
    [["worker", "--webhooks-port"], "--webhooks-port"],
    [["worker", "--metrics-port", "http"], "--metrics-port"],
    [["webhooks", "--metrics-port", "99999"], "--metrics-port"],
    [["sync", "--interval", "0"], "--interval"],
    [["status", "contacts"], "'contacts'"],
    [["push", "contacts", "deals"], "at most 1 argument"],
    [["simulator", "--tier", "gold"], "--tier"],
    [["simulator", "--webhook-url", "http://127.0.0.1:1/x"], "--webhook-secret"],
    [["demo", "--latency", "fast"], "--latency"],
    [["demo", "--latency", "80-30"], "--latency"],
    [["bench", "--tiers", "gold"], "--tiers"],
    [["bench", "--records", "5"], "--records"],
    [["soak", "--faults", "2"], "--faults"],
    [["install", "--database-url", "not a url"], "--database-url"],
  ])("%j: one line naming the option, then the usage (exit 2)", async (args, named) => {
    const r = await hubsync(args);
    expect(r.code).toBe(2);
    const [first, second, ...rest] = r.stderr.split("\n");
    expect(first).toMatch(new RegExp(`^hubsync ${args[0]}: `));
    expect(first).toContain(named);
    expect(second).toMatch(new RegExp(`^usage: hubsync ${args[0]} `));
    expect(rest.length).toBeGreaterThan(0);
  });

  it("a bad value from the environment is named like a flag (HUBSYNC_WORKER_CONCURRENCY → --concurrency)", async () => {
    process.env.HUBSYNC_WORKER_CONCURRENCY = "0";
    const r = await hubsync(["worker"]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toMatch(/^hubsync worker: --concurrency: /);
  });

  it("an unknown command prints the usage (exit 2)", async () => {
    const r = await hubsync(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hubsync: unknown command "frobnicate"\n\nusage: hubsync <command>/);
  });

  it("the hubsync process exits with that status", async () => {
    const [help, bogus] = await Promise.all([runCli(["status", "--help"], {}), runCli(["status", "--bogus"], {})]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: hubsync status \[--json\]/);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toBe(`hubsync status: Unknown option '--bogus'\n${help.stdout}`);
  });
});
