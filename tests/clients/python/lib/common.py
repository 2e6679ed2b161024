"""Shared helpers of the client modes: JSON output, named checks that keep
going after a failure, assertions, connections (closed on exit) and waiting
for what a subscription receives."""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from importlib.metadata import version
from typing import Any

from kurrentdbclient import KurrentDBClient

CLIENT_VERSION = version("kurrentdbclient")

#: Each check must finish within this, or it fails (and the run goes on).
STEP_TIMEOUT_S = 30.0


def emit(record: dict[str, Any]) -> None:
    """Prints one JSON line (bytes as their length, other values as text)."""

    def plain(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return {"bytes": len(value)}
        return str(value)

    print(json.dumps(record, default=plain), flush=True)


class CheckFailure(Exception):
    """A check's expectation that did not hold."""

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.details = details


def fail(message: str, details: Any = None) -> None:
    raise CheckFailure(message, details)


def expect(condition: bool, message: str, details: Any = None) -> None:
    if not condition:
        fail(message, details)


def expect_equal(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        fail(f"{what}: expected {expected!r}, got {actual!r}")


def describe_error(error: BaseException | None) -> str:
    """The exception's type and message on one line (a gRPC error's message
    holds its status code and details)."""
    if error is None:
        return "None"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:500]


def expect_error(action: Callable[[], Any], types: type | tuple[type, ...], what: str) -> BaseException:
    """Runs `action`, which must raise one of `types`; returns the error."""
    try:
        result = action()
    except types as error:  # noqa: PERF203
        return error
    except CheckFailure:
        raise
    except Exception as error:  # noqa: BLE001
        names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        fail(f"{what}: expected {names}, got {describe_error(error)}")
    fail(f"{what}: expected an error, but it succeeded with {result!r}")
    raise AssertionError("unreachable")


class Checks:
    """Runs named checks one after the other, each bounded in time; a failed
    check is reported and the run goes on, so one run shows every gap."""

    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: list[str] = []

    def run(self, name: str, body: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["details"] = body()
            except BaseException as error:  # noqa: BLE001
                outcome["error"] = error
                outcome["trace"] = traceback.format_exc()

        started = time.monotonic()
        worker = threading.Thread(target=target, name=f"check-{name}", daemon=True)
        worker.start()
        worker.join(STEP_TIMEOUT_S)
        ms = round((time.monotonic() - started) * 1000)
        if worker.is_alive():
            return self._failed(name, ms, f"no answer within {STEP_TIMEOUT_S:.0f} s", None)
        error = outcome.get("error")
        if error is not None:
            if isinstance(error, CheckFailure):
                return self._failed(name, ms, str(error), error.details)
            print(outcome.get("trace", ""), file=sys.stderr)
            return self._failed(name, ms, f"unexpected error: {describe_error(error)}", None)
        details = outcome.get("details") or {}
        self.passed.append(name)
        emit({"check": name, "ok": True, "ms": ms, **details})
        return details

    def _failed(self, name: str, ms: int, message: str, details: Any) -> None:
        self.failed.append(name)
        record = {"check": name, "ok": False, "ms": ms, "error": message}
        if details is not None:
            record["details"] = details
        emit(record)
        print(f'check "{name}" failed: {message}', file=sys.stderr)
        return None


_clients: list[KurrentDBClient] = []


def connect(uri: str, **kwargs: Any) -> KurrentDBClient:
    """A client for `uri`, closed when the run ends."""
    client = KurrentDBClient(uri=uri, **kwargs)
    _clients.append(client)
    return client


def close_all() -> None:
    for client in _clients:
        try:
            client.close()
        except Exception:  # noqa: BLE001, S110
            pass


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            fail(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(0.01)


class Watcher:
    """Iterates a subscription on a thread, collecting what it yields, so a
    check can wait for items with a deadline and then stop it."""

    def __init__(self, subscription: Iterable[Any]) -> None:
        self.subscription = subscription
        self.items: list[Any] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._consume, daemon=True)
        self._thread.start()

    def _consume(self) -> None:
        try:
            for item in self.subscription:
                self.items.append(item)
        except BaseException as error:  # noqa: BLE001
            self.error = error

    def wait_for(self, condition: Callable[[list[Any]], bool], seconds: float, what: str) -> list[Any]:
        def done() -> bool:
            if self.error is not None:
                fail(f"the subscription failed while waiting for {what}: {describe_error(self.error)}")
            return condition(self.items)

        wait_until(done, seconds, what)
        return list(self.items)

    def stop(self) -> None:
        stop = getattr(self.subscription, "stop", None)
        if stop is not None:
            stop()
        self._thread.join(5)
