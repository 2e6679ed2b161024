"""Catch-up subscriptions: to `$all` with the client's default filter and
with stream-prefix, event-type, regex and look-around filters (catching up,
then live), checkpoints while nothing matches, from a commit position,
`caught_up`; and to a stream."""

from __future__ import annotations

from typing import Any

from kurrentdbclient import CaughtUp, Checkpoint, StreamState
from kurrentdbclient.events import FellBehind

from .common import Checks, Watcher, expect, expect_equal
from .context import Run, new_event

#: How long a subscription may take to deliver what a check waits for.
WAIT_S = 15.0

MARKERS = (Checkpoint, CaughtUp, FellBehind)


def events_in(items: list[Any]) -> list[Any]:
    return [i for i in items if not isinstance(i, MARKERS)]


class Live:
    """A stream of this run written to while subscriptions watch it."""

    def __init__(self, run: Run, name: str) -> None:
        self.run = run
        self.stream = run.stream(name)
        self.ids: list[str] = []

    def append(self, n: int = 1) -> None:
        for _ in range(n):
            event = new_event("LiveTicked", {"tick": len(self.ids)})
            self.run.client.append_to_stream(self.stream, events=event, current_version=StreamState.ANY)
            self.ids.append(str(event.id))


def watch_live(run: Run, live: Live, passes: Any, **options: Any) -> dict[str, Any]:
    """Subscribes to `$all` with `options`: the live stream's events written
    before (catch-up) and after (live) arrive in order, and every event
    received passes the filter."""
    before = len(live.ids)
    live.append()
    watcher = Watcher(run.client.subscribe_to_all(**options))
    try:
        ours = lambda items: [str(e.id) for e in events_in(items) if e.stream_name == live.stream]  # noqa: E731
        watcher.wait_for(lambda items: len(ours(items)) >= before + 1, WAIT_S, "the catch-up events")
        live.append(2)
        items = watcher.wait_for(lambda items: len(ours(items)) >= before + 3, WAIT_S, "the live events")
    finally:
        watcher.stop()
    expect_equal(ours(items), live.ids, "the live stream's events")
    wrong = [(e.stream_name, e.type) for e in events_in(items) if not passes(e)]
    expect(not wrong, f"events the filter should have left out: {wrong[:5]}")
    return {"events": len(events_in(items))}


def checkpoints_without_matches(run: Run) -> dict[str, Any]:
    """A filter that matches nothing still reports progress: checkpoints
    whose positions grow with the log."""
    noise = Live(run, "py-noise")
    start = run.client.get_commit_position(filter_exclude=())
    watcher = Watcher(
        run.client.subscribe_to_all(
            commit_position=start,
            filter_include=[f"NothingHasThisType-{run.token}"],
            include_checkpoints=True,
            window_size=5,
            checkpoint_interval_multiplier=2,
        )
    )
    try:
        noise.append(25)
        last = run.client.get_stream(noise.stream, backwards=True, limit=11)[-1].commit_position
        items = watcher.wait_for(
            lambda items: any(isinstance(i, Checkpoint) and i.commit_position >= last for i in items),
            WAIT_S,
            "a checkpoint near the head of the log",
        )
    finally:
        watcher.stop()
    expect_equal(events_in(items), [], "events received")
    positions = [i.commit_position for i in items if isinstance(i, Checkpoint)]
    expect(positions == sorted(positions), f"checkpoint positions grow: {positions}")
    return {"checkpoints": len(positions), "positions": positions[:10]}


def from_position(run: Run) -> dict[str, Any]:
    """A subscription from a commit position starts after it."""
    orders = run.client.get_stream(run.orders_stream)
    watcher = Watcher(run.client.subscribe_to_all(commit_position=orders[1].commit_position, filter_exclude=()))
    try:
        ours = lambda items: [e.id for e in events_in(items) if e.stream_name == run.orders_stream]  # noqa: E731
        items = watcher.wait_for(lambda items: len(ours(items)) >= 2, WAIT_S, "the orders after the position")
    finally:
        watcher.stop()
    expect_equal(ours(items), [e.id for e in orders[2:]], "orders after the position")
    first = events_in(items)[0]
    expect_equal(first.id, orders[2].id, "the first event received")
    return {"from": orders[1].commit_position}


def caught_up_all(run: Run) -> dict[str, Any]:
    """With include_caught_up, the orders come and then a CaughtUp whose
    position is at or past the last of them."""
    watcher = Watcher(
        run.client.subscribe_to_all(
            filter_include=[run.orders_stream],
            filter_by_stream_name=True,
            filter_by_prefix=True,
            include_caught_up=True,
        )
    )
    try:
        items = watcher.wait_for(lambda items: any(isinstance(i, CaughtUp) for i in items), WAIT_S, "caught up")
    finally:
        watcher.stop()
    index = next(n for n, i in enumerate(items) if isinstance(i, CaughtUp))
    before = events_in(items[:index])
    expect_equal([str(e.id) for e in before], [o["id"] for o in run.orders], "the orders before caught up")
    expect(items[index].commit_position >= before[-1].commit_position, "caught up at or past the last order")
    return {"caught_up_at": items[index].commit_position}


def caught_up_at_start(run: Run) -> dict[str, Any]:
    """When nothing after the start passes the filter, CaughtUp names the
    position the subscription started from."""
    start = run.client.get_commit_position(filter_exclude=())
    Live(run, "py-unmatched").append()
    watcher = Watcher(
        run.client.subscribe_to_all(
            commit_position=start,
            filter_include=[f"NothingHasThisType-{run.token}"],
            include_caught_up=True,
        )
    )
    try:
        items = watcher.wait_for(lambda items: any(isinstance(i, CaughtUp) for i in items), WAIT_S, "caught up")
    finally:
        watcher.stop()
    caught_up = next(i for i in items if isinstance(i, CaughtUp))
    expect_equal(caught_up.commit_position, start, "the caught-up position")
    expect(caught_up.recorded_at is not None, "caught up has a time")
    return {"start": start}


def subscribe_stream(run: Run) -> dict[str, Any]:
    watcher = Watcher(run.client.subscribe_to_stream(run.orders_stream, include_caught_up=True))
    try:
        items = watcher.wait_for(lambda items: any(isinstance(i, CaughtUp) for i in items), WAIT_S, "caught up")
    finally:
        watcher.stop()
    index = next(n for n, i in enumerate(items) if isinstance(i, CaughtUp))
    expect_equal([str(e.id) for e in items[:index]], [o["id"] for o in run.orders], "the orders, then caught up")
    after = Watcher(run.client.subscribe_to_stream(run.orders_stream, stream_position=1))
    try:
        later = after.wait_for(lambda items: len(items) >= 2, WAIT_S, "the orders after revision 1")
    finally:
        after.stop()
    expect_equal([e.stream_position for e in later], [2, 3], "revisions after revision 1")
    return {"events": index}


def subscribe_stream_live(run: Run) -> dict[str, Any]:
    live = Live(run, "py-live-stream")
    live.append()
    watcher = Watcher(run.client.subscribe_to_stream(live.stream))
    try:
        watcher.wait_for(lambda items: len(items) >= 1, WAIT_S, "the first event")
        live.append(2)
        items = watcher.wait_for(lambda items: len(items) >= 3, WAIT_S, "the live events")
    finally:
        watcher.stop()
    expect_equal([str(e.id) for e in items], live.ids, "the stream's events")
    expect_equal([e.stream_position for e in items], [0, 1, 2], "revisions")
    return {"events": len(items)}


def run_subscriptions(checks: Checks, run: Run) -> None:
    live = Live(run, "py-live")
    batch = run.stream("py-batch")
    checks.run(
        "subscribe-all-default-filter",
        lambda: watch_live(run, live, lambda e: not e.type.startswith("$")),
    )
    checks.run(
        "subscribe-all-stream-prefix-filter",
        lambda: watch_live(
            run,
            live,
            lambda e: e.stream_name.startswith(live.stream),
            filter_include=[live.stream],
            filter_by_stream_name=True,
            filter_by_prefix=True,
        ),
    )
    checks.run(
        "subscribe-all-event-type-filter",
        lambda: watch_live(run, live, lambda e: e.type == "LiveTicked", filter_include=["LiveTicked"]),
    )
    checks.run(
        "subscribe-all-regex-filter",
        lambda: watch_live(
            run,
            live,
            lambda e: e.stream_name.startswith("py-live"),
            filter_include=[r"py-live-[A-Za-z0-9_-]+"],
            filter_by_stream_name=True,
        ),
    )
    checks.run(
        "subscribe-all-lookaround-filter",
        lambda: watch_live(
            run,
            live,
            lambda e: e.stream_name != batch,
            filter_exclude=[batch],
            filter_by_stream_name=True,
        ),
    )
    checks.run("subscribe-all-checkpoints-without-matches", lambda: checkpoints_without_matches(run))
    checks.run("subscribe-all-from-position", lambda: from_position(run))
    checks.run("subscribe-all-caught-up", lambda: caught_up_all(run))
    checks.run("subscribe-all-caught-up-without-matches", lambda: caught_up_at_start(run))
    checks.run("subscribe-stream", lambda: subscribe_stream(run))
    checks.run("subscribe-stream-live", lambda: subscribe_stream_live(run))
