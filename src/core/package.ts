import { existsSync, readFileSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

/**
 * Where hubsync's own files are, wherever it runs from. In a clone, Node runs the TypeScript in
 * src/ and tasks/ directly; an installed package runs the JavaScript that `npm pack` built into
 * dist/src and dist/tasks (Node will not strip types under node_modules). The data files (sql/,
 * migrations/, crontab, package.json) are not compiled, so they sit at the package root either way.
 */
const HERE = fileURLToPath(new URL(".", import.meta.url));

/** src/.. in a clone, dist/ in a package: the root of the code that is running. */
export const CODE_ROOT = join(HERE, "..", "..");

/** The directory holding package.json: the clone, or node_modules/hubsync. */
export const PACKAGE_ROOT = findPackageRoot(CODE_ROOT);

/** ".ts" when running the sources, ".js" when running the built package. */
export const CODE_EXTENSION = extname(fileURLToPath(import.meta.url));

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`hubsync: no package.json above ${start}`);
  }
}

/** Path of a module of ours (given without extension, from the code root), in the form that runs here. */
export function codePath(fromCodeRoot: string): string {
  return join(CODE_ROOT, fromCodeRoot + CODE_EXTENSION);
}

const PackageJson = z.object({ name: z.string(), version: z.string() });

/** The version in package.json (what `hubsync --version` prints and `hubsync install` records). */
export const VERSION: string = PackageJson.parse(JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8"))).version;
