import { execFile } from "node:child_process";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** Paths in an npm tarball (each under package/). */
export async function listTarball(tarball: string): Promise<string[]> {
  const { stdout } = await exec("tar", ["-tzf", tarball], { maxBuffer: 16 << 20 });
  return stdout.split("\n").filter(Boolean);
}

/** Bytes on disk of a project's node_modules (du -s, what an operator's disk holds). */
export async function productionInstallBytes(project: string): Promise<number> {
  const { stdout } = await exec("du", ["-sk", `${project}/node_modules`]);
  return Number(stdout.split("\t")[0]) * 1024;
}

export interface DockerCopy {
  /** The stage the instruction is in (its AS name, or its index). */
  stage: string;
  /** --from=… when it copies from another stage or image, else null (the build context). */
  from: string | null;
  sources: string[];
  destination: string;
}

/**
 * The COPY and ADD instructions of a Dockerfile (line continuations joined, comments dropped), enough
 * to check that what an image build copies exists without running Docker.
 */
export function dockerCopies(dockerfile: string): DockerCopy[] {
  const lines = dockerfile
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const copies: DockerCopy[] = [];
  let stage = "";
  let stages = 0;
  for (const line of lines) {
    const [instruction = "", ...args] = line.split(/\s+/);
    if (/^FROM$/i.test(instruction)) {
      const as = args.findIndex((a) => /^AS$/i.test(a));
      stage = as >= 0 && args[as + 1] ? args[as + 1]! : String(stages);
      stages++;
    } else if (/^(COPY|ADD)$/i.test(instruction)) {
      if (args[0]?.startsWith("[")) throw new Error(`JSON-form ${instruction} is not understood here: ${line}`);
      const flags = args.filter((a) => a.startsWith("--"));
      const paths = args.filter((a) => !a.startsWith("--"));
      const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length) ?? null;
      copies.push({ stage, from, sources: paths.slice(0, -1), destination: paths.at(-1) ?? "" });
    }
  }
  return copies;
}
