"""Stream metadata (`$maxCount`, `$maxAge`) and its effect on reads; soft
delete and tombstone, and what appending after each gives."""

from __future__ import annotations

import time
from typing import Any

from kurrentdbclient import StreamState
from kurrentdbclient.exceptions import (
    FailedPreconditionError,
    NotFoundError,
    StreamIsDeletedError,
    WrongCurrentVersionError,
)

from .common import Checks, expect, expect_equal, expect_error
from .context import Run, new_event


def append_events(run: Run, stream: str, count: int) -> None:
    for n in range(count):
        run.client.append_to_stream(stream, events=new_event("Noted", {"n": n}), current_version=StreamState.ANY)


def revisions(run: Run, stream: str) -> list[int]:
    return [e.stream_position for e in run.client.get_stream(stream)]


def max_count(run: Run) -> dict[str, Any]:
    stream = run.stream("py-capped")
    append_events(run, stream, 5)
    run.client.set_stream_metadata(stream, metadata={"$maxCount": 2})
    metadata, version = run.client.get_stream_metadata(stream)
    expect_equal(metadata, {"$maxCount": 2}, "the metadata read back")
    expect_equal(version, 0, "the metadata stream's version")
    expect_equal(revisions(run, stream), [3, 4], "revisions left by $maxCount 2")
    backwards = [e.stream_position for e in run.client.get_stream(stream, backwards=True)]
    expect_equal(backwards, [4, 3], "revisions backwards")
    return {"revisions": [3, 4]}


def max_age(run: Run) -> dict[str, Any]:
    stream = run.stream("py-aged")
    append_events(run, stream, 3)
    run.client.set_stream_metadata(stream, metadata={"$maxAge": 1})
    time.sleep(2.2)
    try:
        left = revisions(run, stream)
    except NotFoundError:
        left = []
    expect_equal(left, [], "events older than $maxAge 1 s")
    append_events(run, stream, 1)
    expect_equal(revisions(run, stream), [3], "a new event after the old ones expired")
    return {"metadata": run.client.get_stream_metadata(stream)[0]}


def soft_delete(run: Run) -> dict[str, Any]:
    stream = run.stream("py-deleted")
    append_events(run, stream, 2)
    wrong = expect_error(
        lambda: run.client.delete_stream(stream, current_version=5), WrongCurrentVersionError, "delete expecting 5"
    )
    expect_equal((wrong.stream_name, wrong.expected_version, wrong.actual_version), (stream, 5, 1), "the error's fields")
    expect_error(
        lambda: run.client.delete_stream(run.stream("py-never"), current_version=StreamState.EXISTS),
        NotFoundError,
        "delete a missing stream expecting it exists",
    )
    run.client.delete_stream(stream, current_version=1)
    expect_error(lambda: run.client.get_stream(stream), NotFoundError, "read a deleted stream")
    expect_equal(run.client.get_current_version(stream), StreamState.NO_STREAM, "current version after delete")
    # Appending brings the stream back; its revisions go on.
    run.client.append_to_stream(stream, events=new_event("Noted", {"n": 2}), current_version=StreamState.NO_STREAM)
    expect_equal(revisions(run, stream), [2], "revisions after appending to the deleted stream")
    # The client's documented sequence: a deleted stream is still at its
    # last version for a tombstone.
    doomed = run.stream("py-deleted-then-tombstoned")
    append_events(run, doomed, 3)
    run.client.delete_stream(doomed, current_version=2)
    run.client.tombstone_stream(doomed, current_version=2)
    expect_error(lambda: run.client.get_stream(doomed), StreamIsDeletedError, "read after delete then tombstone")
    return {"revisions_after": [2]}


def tombstone(run: Run) -> dict[str, Any]:
    """A tombstoned stream can be neither read nor deleted again. Appending
    one event (the Append call) fails as on KurrentDB: a FAILED_PRECONDITION
    the client does not map, so FailedPreconditionError saying the stream
    is deleted."""
    stream = run.stream("py-tombstoned")
    append_events(run, stream, 1)
    expect_error(
        lambda: run.client.tombstone_stream(stream, current_version=3), WrongCurrentVersionError, "tombstone expecting 3"
    )
    run.client.tombstone_stream(stream, current_version=0)
    read = expect_error(lambda: run.client.get_stream(stream), StreamIsDeletedError, "read")
    expect_error(lambda: run.client.get_current_version(stream), StreamIsDeletedError, "get_current_version")
    expect_error(lambda: run.client.get_stream_metadata(stream), StreamIsDeletedError, "get_stream_metadata")
    append = expect_error(
        lambda: run.client.append_to_stream(stream, events=new_event("Noted", {}), current_version=StreamState.ANY),
        FailedPreconditionError,
        "append one event to a tombstoned stream",
    )
    expect("is deleted" in str(append), f"the error says the stream is deleted: {append}")
    again = expect_error(
        lambda: run.client.delete_stream(stream, current_version=StreamState.ANY),
        StreamIsDeletedError,
        "delete a tombstoned stream",
    )
    return {"read": type(read).__name__, "append": type(append).__name__, "delete": type(again).__name__}


def tombstone_then_append_list(run: Run) -> dict[str, Any]:
    """Appending a list (the BatchAppend call) to a tombstoned stream raises
    StreamIsDeletedError."""
    stream = run.stream("py-tombstoned")
    error = expect_error(
        lambda: run.client.append_to_stream(
            stream, events=[new_event("Noted", {}), new_event("Noted", {})], current_version=StreamState.ANY
        ),
        StreamIsDeletedError,
        "append a list to a tombstoned stream",
    )
    return {"append": type(error).__name__}


def run_lifecycle(checks: Checks, run: Run) -> None:
    checks.run("stream-metadata-max-count", lambda: max_count(run))
    checks.run("stream-metadata-max-age", lambda: max_age(run))
    checks.run("delete-stream", lambda: soft_delete(run))
    checks.run("tombstone-stream", lambda: tombstone(run))
    checks.run("tombstone-then-append-list", lambda: tombstone_then_append_list(run))
