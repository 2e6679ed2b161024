"""Appends through both of the client's paths: one `NewEvent` goes through
`Streams.Append`, a list through `Streams.BatchAppend`; every kind of
expected version, wrong ones, idempotent retries, and the multi-stream
append (`multi_append_to_stream`, the v2 append session)."""

from __future__ import annotations

from typing import Any

from kurrentdbclient import NewEvent, NewEvents, StreamState
from kurrentdbclient.exceptions import NotFoundError, WrongCurrentVersionError

from .common import Checks, expect, expect_equal, expect_error
from .context import Run, new_event


def order(run: Run, n: int) -> NewEvent:
    return new_event("OrderPlaced" if n % 2 == 0 else "OrderPaid", {"order": n, "token": run.token})


def revisions(run: Run, stream: str) -> list[int]:
    return [event.stream_position for event in run.client.get_stream(stream)]


def append_one(run: Run, n: int, current_version: int | StreamState) -> dict[str, Any]:
    """Appends order `n` alone (the Append call) and remembers it for the
    connector."""
    event = order(run, n)
    position = run.client.append_to_stream(run.orders_stream, events=event, current_version=current_version)
    expect(isinstance(position, int) and position > 0, f"a commit position, got {position!r}")
    expect_equal(revisions(run, run.orders_stream), list(range(n + 1)), "revisions after the append")
    run.orders.append({"id": str(event.id), "revision": n, "type": event.type, "data": {"order": n, "token": run.token}})
    return {"commit_position": position, "revision": n}


def append_list(run: Run, first: int, current_version: int | StreamState) -> dict[str, Any]:
    """Appends two events as a list (the BatchAppend call)."""
    stream = run.stream("py-batch")
    events = [order(run, first), order(run, first + 1)]
    position = run.client.append_to_stream(stream, events=events, current_version=current_version)
    expect(isinstance(position, int) and position > 0, f"a commit position, got {position!r}")
    recorded = run.client.get_stream(stream)
    expect_equal([e.stream_position for e in recorded], list(range(first + 2)), "revisions after the append")
    expect_equal([e.id for e in recorded[first:]], [e.id for e in events], "ids of the appended events")
    return {"commit_position": position, "revisions": [first, first + 1]}


def wrong_versions(run: Run, append: Any, stream: str, current: int) -> dict[str, Any]:
    """Each wrong expectation raises WrongCurrentVersionError naming the
    stream, what was expected and what the stream is at; nothing is written."""
    missing = f"{stream}-missing"
    cases = [
        (stream, 0, current),
        (stream, StreamState.NO_STREAM, current),
        (missing, StreamState.EXISTS, StreamState.NO_STREAM),
        (missing, 5, StreamState.NO_STREAM),
    ]
    seen = []
    for name, expected, actual in cases:
        error = expect_error(
            lambda name=name, expected=expected: append(name, expected),
            WrongCurrentVersionError,
            f"append to {name} expecting {expected}",
        )
        expect_equal(error.stream_name, name, "the error's stream_name")
        expect_equal(error.expected_version, expected, "the error's expected_version")
        expect_equal(error.actual_version, actual, "the error's actual_version")
        seen.append({"expected": str(expected), "actual": str(actual)})
    expect_equal(revisions(run, stream)[-1], current, f"the last revision of {stream}")
    expect_error(lambda: run.client.get_stream(missing), NotFoundError, f"read {missing}")
    return {"errors": seen}


def idempotent(run: Run, stream: str, events: NewEvent | list[NewEvent]) -> dict[str, Any]:
    """The same events appended again with the same expectation are not
    written twice; the retry answers like the first append."""
    first = run.client.append_to_stream(stream, events=events, current_version=StreamState.NO_STREAM)
    retried = run.client.append_to_stream(stream, events=events, current_version=StreamState.NO_STREAM)
    again_any = run.client.append_to_stream(stream, events=events, current_version=StreamState.ANY)
    count = 1 if isinstance(events, NewEvent) else len(events)
    expect_equal(len(run.client.get_stream(stream)), count, f"events in {stream} after retries")
    return {"first": first, "retried": retried, "retried_any": again_any}


def multi_append(run: Run) -> dict[str, Any]:
    streams = [run.stream("py-multi-a"), run.stream("py-multi-b")]
    batches = [
        NewEvents(stream_name=streams[0], events=[order(run, 0), order(run, 1)], current_version=StreamState.NO_STREAM),
        NewEvents(stream_name=streams[1], events=[order(run, 2)], current_version=StreamState.NO_STREAM),
    ]
    position = run.client.multi_append_to_stream(batches)
    expect(position > 0, f"a commit position, got {position!r}")
    for batch in batches:
        recorded = run.client.get_stream(batch.stream_name)
        expect_equal([e.id for e in recorded], [e.id for e in batch.events], f"events of {batch.stream_name}")
    return {"commit_position": position, "streams": streams}


def multi_append_wrong(run: Run) -> dict[str, Any]:
    """One wrong expectation fails the whole multi-stream append."""
    fresh = run.stream("py-multi-c")
    existing = run.stream("py-multi-a")
    batches = [
        NewEvents(stream_name=fresh, events=[order(run, 3)], current_version=StreamState.NO_STREAM),
        NewEvents(stream_name=existing, events=[order(run, 4)], current_version=StreamState.NO_STREAM),
    ]
    error = expect_error(lambda: run.client.multi_append_to_stream(batches), WrongCurrentVersionError, "multi-append")
    expect_equal(error.stream_name, existing, "the error's stream_name")
    expect_error(lambda: run.client.get_stream(fresh), NotFoundError, f"read {fresh} after the failed append")
    expect_equal(len(run.client.get_stream(existing)), 2, f"events of {existing} after the failed append")
    return {"error": type(error).__name__, "actual_version": str(error.actual_version)}


def run_appends(checks: Checks, run: Run) -> None:
    client = run.client
    checks.run("append-event-no-stream", lambda: append_one(run, 0, StreamState.NO_STREAM))
    checks.run("append-event-exact-version", lambda: append_one(run, 1, 0))
    checks.run("append-event-stream-exists", lambda: append_one(run, 2, StreamState.EXISTS))
    checks.run("append-event-any", lambda: append_one(run, 3, StreamState.ANY))
    checks.run(
        "append-event-wrong-expected-version",
        lambda: wrong_versions(
            run,
            lambda stream, expected: client.append_to_stream(stream, events=order(run, 9), current_version=expected),
            run.orders_stream,
            3,
        ),
    )
    checks.run("append-list-no-stream", lambda: append_list(run, 0, StreamState.NO_STREAM))
    checks.run("append-list-exact-version", lambda: append_list(run, 2, 1))
    checks.run("append-list-stream-exists", lambda: append_list(run, 4, StreamState.EXISTS))
    checks.run("append-list-any", lambda: append_list(run, 6, StreamState.ANY))
    checks.run(
        "append-list-wrong-expected-version",
        lambda: wrong_versions(
            run,
            lambda stream, expected: client.append_to_stream(
                stream, events=[order(run, 8), order(run, 9)], current_version=expected
            ),
            run.stream("py-batch"),
            7,
        ),
    )
    checks.run("append-event-idempotent", lambda: idempotent(run, run.stream("py-retry-one"), order(run, 0)))
    checks.run(
        "append-list-idempotent",
        lambda: idempotent(run, run.stream("py-retry-list"), [order(run, 0), order(run, 1)]),
    )
    checks.run("multi-append-streams", lambda: multi_append(run))
    checks.run("multi-append-wrong-expected-version", lambda: multi_append_wrong(run))
