import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * Which PostgreSQL servers the suite runs against: HUBSYNC_TEST_POSTGRES=system, embedded, auto (the
 * machine's server binaries when present) or a list such as "system,embedded" (`make test`), each
 * one a vitest project with its own server and template database (test/support/global-setup.ts),
 * all of them sharing one pool of workers and one closing line. DATABASE_URL names a server the
 * caller owns instead.
 */
const servers = process.env.DATABASE_URL ? ["given"] : (process.env.HUBSYNC_TEST_POSTGRES ?? "auto").split(",").map((s) => s.trim());

/**
 * The slow files: the soak, the faults (killed workers, PostgreSQL restarts, lost answers), the demo,
 * the bench, and a wide portal's backfill in a small heap. Each takes from half a minute to over a minute of two busy cores, and exercises
 * hubsync's processes and tools rather than anything that differs between PostgreSQL versions:
 * `make test-fast` (HUBSYNC_TEST_FAST=1) leaves them out, and with several servers only the first
 * one runs them.
 */
const SLOW = ["test/soak.test.ts", "test/faults-*.test.ts", "test/demo.test.ts", "test/bench.test.ts", "test/worker-wide-portal-memory.test.ts"];

/**
 * A second server only gives something to files that reach its database (they make theirs with
 * test/support/database.ts); the simulator's tests and other pure ones run once.
 */
const testDir = fileURLToPath(new URL("test/", import.meta.url));
const withoutDatabase = readdirSync(testDir)
  .filter((f) => f.endsWith(".test.ts") && !readFileSync(join(testDir, f), "utf8").includes("./support/database.ts"))
  .map((f) => `test/${f}`);

/**
 * Files that reach a database but test nothing that differs between PostgreSQL versions: the CLI's
 * messages and exit codes, the HubSpot client's retries, pauses and rate budget, the webhook
 * receiver's HTTP side, logging, the package, and pulls whose subject is HubSpot's paging and
 * search rather than the SQL that stores what they read. The SQL those files go through (install,
 * triggers, hubsync.status, the pull's upserts, the outbox, association tables, roles, webhook
 * events applied) is what the files left on every server exercise, so a second server gains
 * nothing from running these again.
 */
const ONE_SERVER = [
  "test/bad-input-config.test.ts",
  "test/bad-input-malformed.test.ts",
  "test/associations-window.test.ts",
  "test/associations-read-size.test.ts",
  "test/crontab.test.ts",
  "test/doctor.test.ts",
  "test/harness.test.ts",
  "test/hubspot-api-versions.test.ts",
  "test/hubspot-client.test.ts",
  "test/hubspot-client-budget.test.ts",
  "test/package.test.ts",
  "test/pull-10k.test.ts",
  "test/pull-cli.test.ts",
  "test/pull-search-disorder.test.ts",
  "test/pull-wide-catalog.test.ts",
  "test/push-kill.test.ts",
  "test/push-latency.test.ts",
  "test/quota-daily.test.ts",
  "test/quota-migration.test.ts",
  "test/quota-scopes.test.ts",
  "test/quota-token.test.ts",
  "test/rate-learned-limit.test.ts",
  "test/security-log.test.ts",
  "test/security-secrets.test.ts",
  "test/sync-once-exit.test.ts",
  "test/verify-compare-independent.test.ts",
  "test/webhooks-e2e.test.ts",
  "test/webhooks-receiver.test.ts",
  "test/webhooks-receiver-unavailable.test.ts",
  "test/worker.test.ts",
  "test/worker-e2e.test.ts",
  "test/clean-stop.test.ts",
  "test/status-watch.test.ts",
  "test/worker-heap.test.ts",
  "test/operations-metrics.test.ts",
  "test/push-capacity.test.ts",
  "test/runs-abandoned.test.ts",
  "test/pull-backfill-ranges.test.ts",
  "test/retention.test.ts",
  // Folding current.sql into a committed migration is graphile-migrate's work on files; the SQL it
  // then applies is install's, which install.test.ts runs on every server.
  "test/install-commit.test.ts",
  // The worker running what associations.test.ts, pull-backfill.test.ts, pull-incremental.test.ts
  // and merges.test.ts run on every server: the same SQL, reached through graphile-worker's jobs.
  "test/associations-worker.test.ts",
  "test/pull-worker.test.ts",
  "test/webhooks-apply.test.ts",
];

const fast = process.env.HUBSYNC_TEST_FAST === "1";

/**
 * The suite starts a few hundred node processes (`hubsync worker`, CLI commands, and vitest's own
 * process per test file), and each one strips the types of and compiles the modules it loads: about
 * half a second of CPU for a worker, a fifth of one for a test file's dependencies. Node's compile
 * cache keeps that work on disk for the next process (keyed by each file's path and contents, so an
 * edit is seen); vitest's processes and the test files' children inherit this variable.
 */
process.env.NODE_COMPILE_CACHE ??= fileURLToPath(new URL("node_modules/.cache/node-compile-cache", import.meta.url));

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Quiet unless something fails: console output (and the product's logs, test/support/quiet-logs.ts)
    // is printed only for failing tests.
    setupFiles: ["test/support/quiet-logs.ts"],
    silent: "passed-only",
    pool: "forks",
    // As many workers as cores. A third worker on two cores saved about 20 s of a 7-minute run, but
    // it starved the process-level files (the soak, the 429 storm), whose workers then missed their
    // generous limits: a run that fails when nothing is broken costs more than it saves.
    maxWorkers: availableParallelism(),
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: servers.map((server, i) => ({
      extends: true,
      test: {
        name: server,
        // per project, not at the root: vitest runs the root's global setup as well
        globalSetup: ["test/support/global-setup.ts"],
        env: server === "given" ? {} : { HUBSYNC_TEST_POSTGRES: server },
        exclude: [...(fast || i > 0 ? SLOW : []), ...(i > 0 ? [...withoutDatabase, ...ONE_SERVER] : [])],
      },
    })),
  },
});
