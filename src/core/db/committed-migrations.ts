import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { calculateHash } from "graphile-migrate/dist/hash.js";

/**
 * hubsync's committed migrations, read the way graphile-migrate 1.4 reads them
 * (graphile-migrate/dist/migration.js: getAllMigrations, parseMigrationText) and checked the same
 * way: each body must hash to its `--! Hash:` header, chained through `--! Previous:`. Using its
 * own calculateHash keeps `hubsync install` and graphile-migrate's CLI in agreement about which
 * file is which, so an edited migration is refused by both.
 */
export interface CommittedMigration {
  /** graphile-migrate's key: the number, e.g. "000001.sql". */
  filename: string;
  /** The file's name on disk, e.g. "000001-control-schema.sql". */
  realFilename: string;
  hash: string;
  previousHash: string | null;
  message: string | null;
  body: string;
  /** `--! no-transaction` on the first body line (graphile-migrate's rule). */
  transaction: boolean;
}

const VALID_FILE = /^([0-9]+)(-[-_a-zA-Z0-9]*)?\.sql$/;
const HEADER = /^--! ([A-Z][a-zA-Z0-9_]*)(?::(.*))?$/;

export function parseMigrationText(path: string, contents: string): { headers: Record<string, string | null>; body: string } {
  const lines = contents.split("\n");
  const headers: Record<string, string | null> = {};
  let headerLines = 0;
  for (const line of lines) {
    const m = HEADER.exec(line);
    if (!m) break;
    headerLines++;
    const key = m[1] as string;
    if (key in headers) throw new Error(`${path}: header '${key}' is given twice`);
    headers[key] = m[2] ? m[2].trim() : null;
  }
  if (lines[headerLines] !== "") throw new Error(`${path}: a committed migration needs an empty line after its headers`);
  return { headers, body: lines.slice(headerLines).join("\n").trim() + "\n" };
}

export { calculateHash };

export async function readCommittedMigrations(migrationsDir: string): Promise<CommittedMigration[]> {
  const dir = join(migrationsDir, "committed");
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new Error(`hubsync install: cannot read ${dir}: ${(err as Error).message}`);
  }
  const migrations: CommittedMigration[] = [];
  for (const realFilename of names) {
    const match = VALID_FILE.exec(realFilename);
    if (!match) continue;
    const path = join(dir, realFilename);
    const { headers, body } = parseMigrationText(path, await readFile(path, "utf8"));
    const previous = headers["Previous"];
    const hash = headers["Hash"];
    if (!previous) throw new Error(`${path}: no '--! Previous:' header`);
    if (!hash) throw new Error(`${path}: no '--! Hash:' header`);
    const previousHash = previous === "-" ? null : previous;
    const actual = calculateHash(body, previousHash);
    if (actual !== hash && !("AllowInvalidHash" in headers)) {
      throw new Error(
        `hubsync install: ${path} was edited after it was committed (its content hashes to ${actual}, its header says ${hash}). ` +
          `Committed migrations never change: undo the edit and put the change in migrations/current.sql.`,
      );
    }
    const firstLine = body.split("\n", 1)[0] ?? "";
    migrations.push({
      filename: `${match[1]}.sql`,
      realFilename,
      hash,
      previousHash,
      message: headers["Message"] ?? null,
      body,
      transaction: !/^--!\s*no-transaction\b/.test(firstLine),
    });
  }
  migrations.sort((a, b) => a.filename.localeCompare(b.filename, "en"));
  let previous: CommittedMigration | null = null;
  for (const m of migrations) {
    const expected = previous ? previous.hash : null;
    if (m.previousHash !== expected) {
      throw new Error(
        `hubsync install: ${m.realFilename} says the migration before it has hash ${m.previousHash ?? "-"}, ` +
          `but ${previous ? `${previous.realFilename} has ${previous.hash}` : "it is the first one"}; the committed migrations are out of order or one was edited.`,
      );
    }
    previous = m;
  }
  return migrations;
}
