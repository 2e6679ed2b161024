#!/usr/bin/env python3
"""Drives the official KurrentDB Python client (`kurrentdbclient`) against a
KurrentDB gRPC endpoint, such as `connectors serve --grpc-listen`.

  python client.py check <connection-string> <token>
      Appends through both of the client's paths, reads, subscriptions with
      filters, metadata, delete and tombstone, multi-stream appends, gossip,
      connection strings and the services the node does not have. Prints one
      JSON line per check (a failed check does not stop the run) and a
      summary line; exits 1 if any check failed. Leaves the stream
      `py-orders-<token>` holding the events listed in the summary
      (`orders`), in order.

  python client.py auth <connection-string> <user:password> <stream> <count>
      Against a node that requires basic authentication: what the client
      does with credentials in the connection string, and that calls
      without them are refused. `<stream>` must hold `<count>` events.

  python client.py bench <connection-string> [--single N] [--batches N]
      Append, read and catch-up rates; prints one JSON object.

The connection string is the client's own, e.g.
`kurrentdb://127.0.0.1:2113?tls=false`. CLIENT_RUN_TIMEOUT_S bounds the
whole run (default 300).
"""

from __future__ import annotations

import os
import re
import sys
import threading

from lib.common import close_all, emit


def usage(message: str = "") -> None:
    if message:
        print(message, file=sys.stderr)
    print(__doc__, file=sys.stderr)
    sys.exit(2)


def watchdog(seconds: float) -> None:
    """Ends the process when the run takes longer than `seconds`, whatever
    it is blocked on."""

    def expire() -> None:
        emit({"check": "run", "ok": False, "error": f"the run did not finish within {seconds:.0f} s"})
        print(f"the run did not finish within {seconds:.0f} s", file=sys.stderr)
        os._exit(1)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def parse_flags(args: list[str], names: tuple[str, ...]) -> dict[str, int]:
    flags: dict[str, int] = {}
    if len(args) % 2:
        usage(f"options come in pairs: {' '.join(args)}")
    for name, value in zip(args[::2], args[1::2], strict=True):
        key = name.removeprefix("--")
        if key not in names or not value.isdigit() or int(value) <= 0:
            usage(f"bad option: {name} {value}")
        flags[key] = int(value)
    return flags


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        usage()
    mode, uri, rest = argv[0], argv[1], argv[2:]
    watchdog(float(os.environ.get("CLIENT_RUN_TIMEOUT_S", "300")))
    try:
        if mode == "check":
            if len(rest) != 1 or not re.fullmatch(r"[A-Za-z0-9_-]+", rest[0]):
                usage("check needs a token of letters, digits, '-' or '_'")
            from lib.check import run_check

            ok = run_check(uri, rest[0])
        elif mode == "auth":
            if len(rest) != 3 or ":" not in rest[0] or not rest[2].isdigit():
                usage("auth needs user:password, a stream and its event count")
            from lib.auth import run_auth

            ok = run_auth(uri, rest[0], rest[1], int(rest[2]))
        elif mode == "bench":
            from lib.bench import run_bench

            ok = run_bench(uri, parse_flags(rest, ("single", "batches")))
        else:
            usage(f"unknown mode: {mode}")
            return 2
    except Exception as error:  # noqa: BLE001
        emit({"check": "run", "ok": False, "error": f"{type(error).__name__}: {error}"})
        raise
    finally:
        close_all()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
