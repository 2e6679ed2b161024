"""Connecting: gossip (what `+discover` connection strings read), both
schemes with and without discovery; and the services the node does not
have (persistent subscriptions, projections), which answer as a KurrentDB
node without them does."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kurrentdbclient import KurrentDBClient, StreamState
from kurrentdbclient.exceptions import GrpcError

from .common import Checks, expect, expect_equal, expect_error
from .context import Run, new_event

#: What an ASP.NET Core gRPC host (as KurrentDB is) answers for a service it
#: does not serve.
UNIMPLEMENTED_SERVICE = "Service is unimplemented."


def gossip(run: Run) -> dict[str, Any]:
    members = run.client.read_gossip()
    expect_equal(len(members), 1, "members")
    member = members[0]
    expect_equal(member.state, "NODE_STATE_LEADER", "the member's state")
    address = urlsplit(run.uri)
    expect_equal((member.address, member.port), (address.hostname, address.port), "the member's address")
    return {"member": f"{member.address}:{member.port}", "state": member.state}


def with_scheme(uri: str, scheme: str) -> str:
    return scheme + uri[uri.index("://") :]


def connection_strings(run: Run) -> dict[str, Any]:
    """Each scheme connects (the `+discover` ones through gossip) and
    appends and reads."""
    used = []
    for scheme in ("kurrentdb", "esdb", "kurrentdb+discover", "esdb+discover"):
        uri = with_scheme(run.uri, scheme)
        client = KurrentDBClient(uri=uri)
        try:
            stream = run.stream(f"py-scheme-{scheme.replace('+', '-')}")
            event = new_event("Connected", {"scheme": scheme})
            client.append_to_stream(stream, events=event, current_version=StreamState.NO_STREAM)
            expect_equal([e.id for e in client.get_stream(stream)], [event.id], f"read back over {scheme}")
        finally:
            client.close()
        used.append(scheme)
    return {"schemes": used}


def absent(run: Run, what: str, call: Any) -> dict[str, Any]:
    error = expect_error(call, GrpcError, what)
    text = str(error)
    expect("UNIMPLEMENTED" in text, f"{what}: an UNIMPLEMENTED status, got {text!r}")
    expect(UNIMPLEMENTED_SERVICE in text, f"{what}: the message {UNIMPLEMENTED_SERVICE!r}, got {text!r}")
    return {"error": type(error).__name__, "details": UNIMPLEMENTED_SERVICE}


def run_cluster(checks: Checks, run: Run) -> None:
    client = run.client
    checks.run("read-gossip", lambda: gossip(run))
    checks.run("connection-strings", lambda: connection_strings(run))
    checks.run(
        "persistent-subscriptions-absent",
        lambda: absent(run, "create_subscription_to_all", lambda: client.create_subscription_to_all(run.stream("g"))),
    )
    checks.run(
        "persistent-subscription-read-absent",
        lambda: absent(run, "read_subscription_to_all", lambda: next(iter(client.read_subscription_to_all("g")))),
    )
    checks.run(
        "projections-absent",
        lambda: absent(run, "create_projection", lambda: client.create_projection(name=run.stream("p"), query="")),
    )
