"""Reads: a stream both ways and from a position, a missing stream, the
current version, `$all` with the client's default filter (which excludes
system events with a look-around regex) and with stream-prefix, event-type
and regex filters, and the commit position."""

from __future__ import annotations

from typing import Any

from kurrentdbclient import StreamState
from kurrentdbclient.exceptions import NotFoundError

from .common import Checks, expect, expect_equal, expect_error
from .context import Run


def read_forwards(run: Run) -> dict[str, Any]:
    events = run.client.get_stream(run.orders_stream)
    expect_equal([str(e.id) for e in events], [o["id"] for o in run.orders], "ids in order")
    for event, sent in zip(events, run.orders, strict=True):
        expect_equal(event.stream_name, run.orders_stream, "stream_name")
        expect_equal(event.stream_position, sent["revision"], "stream_position")
        expect_equal(event.type, sent["type"], "type")
        expect_equal(event.content_type, "application/json", "content_type")
        expect_equal(event.metadata, b"", "metadata")
        expect(event.data.startswith(b"{"), f"JSON data, got {event.data!r}")
    positions = [e.commit_position for e in events]
    expect(positions == sorted(set(positions)), f"commit positions grow: {positions}")
    middle = run.client.get_stream(run.orders_stream, stream_position=1, limit=2)
    expect_equal([e.stream_position for e in middle], [1, 2], "two events from revision 1")
    return {"events": len(events)}


def read_backwards(run: Run) -> dict[str, Any]:
    events = run.client.get_stream(run.orders_stream, backwards=True)
    expect_equal([e.stream_position for e in events], [3, 2, 1, 0], "revisions backwards")
    from_two = run.client.get_stream(run.orders_stream, stream_position=2, backwards=True, limit=2)
    expect_equal([e.stream_position for e in from_two], [2, 1], "two events back from revision 2")
    return {"events": len(events)}


def read_missing(run: Run) -> dict[str, Any]:
    missing = run.stream("py-missing")
    error = expect_error(lambda: run.client.get_stream(missing), NotFoundError, f"get_stream({missing})")
    expect_error(lambda: list(run.client.read_stream(missing)), NotFoundError, f"read_stream({missing})")
    expect_equal(run.client.get_current_version(missing), StreamState.NO_STREAM, "current version of a missing stream")
    expect_equal(run.client.get_current_version(run.orders_stream), 3, "current version of the orders")
    return {"error": type(error).__name__}


def order_ids(run: Run) -> list[str]:
    return [o["id"] for o in run.orders]


def read_all_default(run: Run) -> dict[str, Any]:
    events = list(run.client.read_all())
    ids = [str(e.id) for e in events if e.stream_name == run.orders_stream]
    expect_equal(ids, order_ids(run), "the orders in $all")
    system = [e.type for e in events if e.type.startswith("$")]
    expect(not system, f"the default filter excludes system events, got {system[:5]}")
    return {"events": len(events)}


def read_all_unfiltered(run: Run) -> dict[str, Any]:
    events = list(run.client.read_all(filter_exclude=()))
    ids = [str(e.id) for e in events if e.stream_name == run.orders_stream]
    expect_equal(ids, order_ids(run), "the orders in $all")
    positions = [e.commit_position for e in events]
    expect(positions == sorted(set(positions)), "commit positions grow")
    # The node keeps appending its own events (members' heartbeats): the
    # backward reads skip whatever came after the forward read.
    last = events[-1].commit_position
    backwards = read_back_to(run, last, len(events))
    expect_equal([e.id for e in backwards], [e.id for e in reversed(events)], "$all backwards")
    last_two = read_back_to(run, last, 2)
    expect_equal([e.id for e in last_two], [e.id for e in backwards[:2]], "the last two events")
    after = list(run.client.read_all(filter_exclude=(), commit_position=events[1].commit_position, limit=2))
    expect_equal([e.id for e in after], [e.id for e in events[1:3]], "two events from a commit position")
    return {"events": len(events)}


# More events than the node appends of its own while a check runs.
NEWER_EVENTS_MARGIN = 100


def read_back_to(run: Run, last: int, count: int) -> list[Any]:
    """The `count` events at or before commit position `last`, read
    backwards from the head of $all."""
    newest = run.client.read_all(filter_exclude=(), backwards=True, limit=count + NEWER_EVENTS_MARGIN)
    return [e for e in newest if e.commit_position <= last][:count]


def read_all_filtered(
    run: Run, what: str, passes: Any, expected_orders: list[str], **filters: Any
) -> dict[str, Any]:
    """Every event read passes the filter (`passes`), and the orders that
    should pass all came, in order."""
    events = list(run.client.read_all(**filters))
    wrong = [(e.stream_name, e.type) for e in events if not passes(e)]
    expect(not wrong, f"events that the {what} filter should have left out: {wrong[:5]}")
    got = [str(e.id) for e in events if e.stream_name == run.orders_stream]
    expect_equal(got, expected_orders, f"orders passing the {what} filter")
    return {"events": len(events)}


def paid_ids(run: Run) -> list[str]:
    return [o["id"] for o in run.orders if o["type"] == "OrderPaid"]


def commit_position(run: Run) -> dict[str, Any]:
    last = list(run.client.read_all(filter_exclude=(), backwards=True, limit=50))
    user = [e for e in last if not e.type.startswith("$")]
    expect(bool(user), "user events in $all")
    position = run.client.get_commit_position()
    expect_equal(position, user[0].commit_position, "the commit position of the last user event")
    return {"commit_position": position}


def run_reads(checks: Checks, run: Run) -> None:
    checks.run("read-stream-forwards", lambda: read_forwards(run))
    checks.run("read-stream-backwards", lambda: read_backwards(run))
    checks.run("read-missing-stream", lambda: read_missing(run))
    checks.run("read-all-default-filter", lambda: read_all_default(run))
    checks.run("read-all-no-filter", lambda: read_all_unfiltered(run))
    orders = run.orders_stream
    batch = run.stream("py-batch")
    checks.run(
        "read-all-stream-prefix-filter",
        lambda: read_all_filtered(
            run,
            "stream prefix",
            lambda e: e.stream_name.startswith(orders),
            order_ids(run),
            filter_include=[orders],
            filter_by_stream_name=True,
            filter_by_prefix=True,
        ),
    )
    checks.run(
        "read-all-event-type-filter",
        lambda: read_all_filtered(
            run,
            "event type",
            lambda e: e.type == "OrderPaid",
            paid_ids(run),
            filter_include=["OrderPaid"],
        ),
    )
    checks.run(
        "read-all-regex-filter",
        lambda: read_all_filtered(
            run,
            "stream regex",
            lambda e: e.stream_name.startswith(("py-orders-", "py-batch-")),
            order_ids(run),
            filter_include=[r"py-(orders|batch)-[A-Za-z0-9_-]+"],
            filter_by_stream_name=True,
        ),
    )
    # The client turns exclusions into a negative look-ahead:
    # `^(?!(py-batch-<token>$))`.
    checks.run(
        "read-all-lookaround-filter",
        lambda: read_all_filtered(
            run,
            "look-around",
            lambda e: e.stream_name != batch,
            order_ids(run),
            filter_exclude=[batch],
            filter_by_stream_name=True,
        ),
    )
    checks.run("get-commit-position", lambda: commit_position(run))

