# Sourced by the clients' bench.sh scripts: starts `connectors serve` with
# `--grpc-listen` on a fresh data dir and stops it when the script exits.
#
# Reads: root (the workspace), target (its target dir), http_port,
# grpc_port, and CONNECTORS_BINARY (run that binary instead of building the
# release one). Sets: binary, data, connection (the client's connection
# string).

if [ -n "${CONNECTORS_BINARY:-}" ]; then
  binary="$CONNECTORS_BINARY"
else
  (cd "$root" && cargo build --release --bin connectors)
  binary="$target/release/connectors"
fi

data="$(mktemp -d)"
"$binary" serve --data "$data" --listen "127.0.0.1:$http_port" --grpc-listen "127.0.0.1:$grpc_port" \
  >"$data/node.out" 2>"$data/node.log" &
server=$!
stop_bench_node() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$data"
}
trap stop_bench_node EXIT

for _ in $(seq 1 200); do
  if curl -fsS "http://127.0.0.1:$http_port/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then cat "$data/node.log" >&2; exit 1; fi
  sleep 0.1
done
connection="kurrentdb://127.0.0.1:$grpc_port?tls=false"
