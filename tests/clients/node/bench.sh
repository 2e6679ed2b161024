#!/usr/bin/env bash
# Measures the KurrentDB gRPC protocol server with the official Node.js
# client: builds the release binary, starts `connectors serve` with
# `--grpc-listen` on a fresh data dir, runs `node client.mjs bench` and prints
# its JSON results: each append workload through BatchAppend and through
# Append side by side, then reads and a subscription catch-up.
#
#   tests/clients/node/bench.sh [--single N] [--batches N] [--concurrent N] [--writers N]
#
# CARGO_TARGET_DIR chooses where the release build goes (default: the
# workspace's target dir); CONNECTORS_BINARY runs that binary instead of
# building one. HTTP_PORT and GRPC_PORT choose the ports (defaults 2119 and
# 2113).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
http_port="${HTTP_PORT:-2119}"
grpc_port="${GRPC_PORT:-2113}"
target="${CARGO_TARGET_DIR:-$root/target}"

command -v node >/dev/null || { echo "node is needed (Node.js 20 or later)" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is needed" >&2; exit 1; }
if [ ! -f "$here/node_modules/@kurrent/kurrentdb-client/package.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi

# shellcheck source=../bench-node.sh
source "$here/../bench-node.sh"

echo "binary: $binary; data: $data; node $(node --version)" >&2
(cd "$here" && node client.mjs bench "$connection" "$@")
