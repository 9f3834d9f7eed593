# Everything a fresh clone needs, from a machine that has only node (any version) and npm.
# A node older than 22.18 is replaced by Node 24 from the npm registry (scripts/ensure-node.sh).
SHELL := /bin/bash
NODE_BIN := $(shell ./scripts/ensure-node.sh)
export PATH := $(NODE_BIN):$(PATH)

.PHONY: demo test test-fast typecheck install-deps simulator bench soak clean

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install-deps: node_modules/.installed

demo: install-deps
	node src/cli/hubsync.ts demo

typecheck: install-deps
	npx tsc --noEmit

# The suite runs against the machine's PostgreSQL server binaries (Debian postgresql-15) when
# present and against npm's embedded PostgreSQL 18, unless DATABASE_URL names a server. Both
# servers run in one vitest run (a project each, one pool of workers, one closing line). The
# second server runs only the files whose SQL could behave differently on another PostgreSQL
# version (install, triggers, status views, the pulls' upserts, the outbox...): the slow ones
# (soak, faults, demo, bench) and those about the CLI, HubSpot's retries and pauses, logging or
# the package run once, on the first server (see vitest.config.ts). The typecheck runs
# beside the tests (they leave it idle CPU while they wait); its errors are printed after them
# and fail the target.
test: install-deps
	@typecheck_log=$$(mktemp); npx tsc --noEmit >"$$typecheck_log" 2>&1 & typecheck=$$!; \
	if [ -n "$$DATABASE_URL" ]; then npx vitest run; \
	elif ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then \
	  echo "== tests on the machine's PostgreSQL (system) and embedded PostgreSQL 18 (embedded) =="; \
	  HUBSYNC_TEST_POSTGRES=system,embedded npx vitest run; \
	else \
	  echo "== no PostgreSQL server binaries on this machine: embedded PostgreSQL only =="; \
	  HUBSYNC_TEST_POSTGRES=embedded npx vitest run; \
	fi; tests=$$?; \
	if ! wait $$typecheck; then echo "== typecheck (tsc --noEmit) failed =="; cat "$$typecheck_log"; tests=1; fi; \
	rm -f "$$typecheck_log"; exit $$tests

# The edit-test loop: one server, without the slow files (soak, faults, demo, bench) and without
# the typecheck. Run `make test` before you push.
test-fast: install-deps
	HUBSYNC_TEST_FAST=1 npx vitest run

simulator: install-deps
	node src/cli/hubsync.ts simulator

bench: install-deps
	node src/cli/hubsync.ts bench

# An hour of two-way changes under faults, then a record-by-record comparison (README "Soak test").
soak: install-deps
	node src/cli/hubsync.ts soak --out bench/soak-results.md

clean:
	rm -rf node_modules .hubsync dist
