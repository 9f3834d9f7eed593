# Everything a fresh clone needs, from a machine that has only node (any version) and npm.
# A node older than 22.18 is replaced by Node 24 from the npm registry (scripts/ensure-node.sh).
SHELL := /bin/bash
NODE_BIN := $(shell ./scripts/ensure-node.sh)
export PATH := $(NODE_BIN):$(PATH)

.PHONY: demo test test-system test-embedded typecheck install-deps simulator bench soak clean

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install-deps: node_modules/.installed

demo: install-deps
	node src/cli/hubsync.ts demo

typecheck: install-deps
	npx tsc --noEmit

# The suite runs against the machine's PostgreSQL server binaries (Debian postgresql-15) when
# present and always against npm's embedded PostgreSQL 18, unless DATABASE_URL names a server.
test: typecheck
	@if [ -n "$$DATABASE_URL" ]; then npx vitest run; \
	else \
	  if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then \
	    echo "== tests on the machine's PostgreSQL =="; HUBSYNC_TEST_POSTGRES=system npx vitest run || exit 1; \
	  else echo "== no PostgreSQL server binaries on this machine: embedded PostgreSQL only =="; fi; \
	  echo "== tests on embedded PostgreSQL 18 =="; HUBSYNC_TEST_POSTGRES=embedded npx vitest run; \
	fi

simulator: install-deps
	node src/cli/hubsync.ts simulator

bench: install-deps
	node src/cli/hubsync.ts bench

# An hour of two-way changes under faults, then a record-by-record comparison (README "Soak test").
soak: install-deps
	node src/cli/hubsync.ts soak --out bench/soak-results.md

clean:
	rm -rf node_modules .hubsync dist
