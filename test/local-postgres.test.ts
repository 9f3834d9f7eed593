import { describe, it, expect } from "vitest";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const localPostgres = fileURLToPath(new URL("../src/tools/shared/local-postgres.ts", import.meta.url));

describe("local PostgreSQL", () => {
  it("an embedded server leaves the process's exit code alone (a failed test run must not exit 0)", () => {
    const script = `
      const { startLocalPostgres } = await import(${JSON.stringify(localPostgres)});
      const server = await startLocalPostgres("embedded");
      await server.stop();
      process.exitCode = 3;`;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
    expect(child.stderr).not.toMatch(/Error/);
    expect(child.status).toBe(3);
  });
});
