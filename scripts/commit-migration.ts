#!/usr/bin/env node
// Folds migrations/current.sql into the next migrations/committed/ file with graphile-migrate's own
// `commit`, on a throwaway PostgreSQL, then checks that `hubsync install` installs the result.
//   node scripts/commit-migration.ts --message "pull and push tables"   [--admin-url postgres://…]
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { commitCurrentMigration } from "../src/tools/commit-migration.ts";

const { values } = parseArgs({ options: { message: { type: "string", short: "m" }, "admin-url": { type: "string" } }, strict: true });
if (!values.message) {
  process.stderr.write('usage: node scripts/commit-migration.ts --message "what the migration does" [--admin-url URL]\n');
  process.exit(2);
}
const root = fileURLToPath(new URL("../", import.meta.url));
try {
  const { file, hash } = await commitCurrentMigration({ root, message: values.message, adminUrl: values["admin-url"] });
  process.stdout.write(
    `committed migrations/committed/${file} (${hash}); migrations/current.sql is empty again.\n` +
      `next: git add migrations/committed/${file} migrations/current.sql && git commit -m "migrations: ${values.message}" -- migrations/committed/${file} migrations/current.sql\n`,
  );
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
