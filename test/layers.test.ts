import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The layers of src/, lowest first: each may import only from its own layer and those below it.
const LAYERS = ["core", "simulator", "tools", "cli"] as const;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

/** Every relative module a file imports, statically or with import(), as paths from the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)["'](\.{1,2}\/[^"']+)["']/gm)].map((m) => m[1]!);
  return specs.map((s) => relative(ROOT, resolve(dirname(file), s)));
}

const graph = new Map(files(SRC).map((f) => [relative(ROOT, f), importsOf(f)]));
const layerOf = (path: string) => LAYERS.indexOf(path.split("/")[1] as (typeof LAYERS)[number]);

describe("src/ imports", () => {
  it("finds the modules and their imports", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get("src/cli/main.ts")).toContain("src/cli/commands/install.ts");
  });

  it("every file lives in one of the layers", () => {
    expect([...graph.keys()].filter((f) => layerOf(f) < 0)).toEqual([]);
  });

  it("no import runs from a lower layer up to a higher one (core < simulator < tools < cli)", () => {
    const upward = [...graph].flatMap(([file, deps]) => deps.filter((d) => d.startsWith("src/") && layerOf(d) > layerOf(file)).map((d) => `${file} → ${d}`));
    expect(upward).toEqual([]);
  });

  it("no two files import each other", () => {
    const mutual = [...graph].flatMap(([file, deps]) => deps.filter((d) => d > file && graph.get(d)?.includes(file)).map((d) => `${file} ⇄ ${d}`));
    expect(mutual).toEqual([]);
  });
});
