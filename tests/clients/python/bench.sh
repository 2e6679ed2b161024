#!/usr/bin/env bash
# Measures the KurrentDB gRPC protocol server with the official Python
# client: builds the release binary, starts `connectors serve` with
# `--grpc-listen` on a fresh data dir, runs `python client.py bench` and
# prints its JSON results.
#
#   tests/clients/python/bench.sh [--single N] [--batches N]
#
# CARGO_TARGET_DIR chooses where the release build goes (default: the
# workspace's target dir); CONNECTORS_BINARY runs that binary instead of
# building one. PYTHON_VENV names the venv holding the pinned client
# (default: target/python-client/venv, created from requirements.txt when
# missing). HTTP_PORT and GRPC_PORT choose the ports (defaults 2119 and
# 2113).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
http_port="${HTTP_PORT:-2119}"
grpc_port="${GRPC_PORT:-2113}"
venv="${PYTHON_VENV:-$target/python-client/venv}"

if [ ! -x "$venv/bin/python" ]; then
  command -v python3 >/dev/null || { echo "python3 is needed (3.10 or later)" >&2; exit 1; }
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/installed-requirements.txt"
fi

# shellcheck source=../bench-node.sh
source "$here/../bench-node.sh"

echo "binary: $binary; data: $data; $("$venv/bin/python" --version)" >&2
(cd "$here" && PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" client.py bench "$connection" "$@")
