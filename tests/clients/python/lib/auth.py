"""`auth` mode, against a node that requires basic authentication.

The client attaches the connection string's credentials only to TLS
channels (`construct_call_credentials` returns nothing when `tls=false`),
and gRPC itself refuses to send call credentials over a cleartext channel.
So over TLS: calls with the right credentials work, calls with a wrong
password are refused (and the client will not connect without any). Over `tls=false`: the credentials never
leave the client, and every call is refused; the checks prove both."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import grpc
from kurrentdbclient import StreamState
from kurrentdbclient.common import BasicAuthCallCredentials
from kurrentdbclient.exceptions import AccessDeniedError, NotFoundError, UnauthenticatedError

from .common import CLIENT_VERSION, Checks, Watcher, connect, emit, expect, expect_equal, expect_error
from .context import new_event

REFUSED = (AccessDeniedError, UnauthenticatedError)


def with_credentials(uri: str, user: str, password: str) -> str:
    scheme, rest = uri.split("://", 1)
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{rest}"


def run_auth(uri: str, user_password: str, stream: str, count: int) -> bool:
    user, password = user_password.split(":", 1)
    checks = Checks()
    authorized = connect(with_credentials(uri, user, password))
    if "tls=false" in uri.lower():
        cleartext(checks, authorized, connect(uri), stream, user, password)
    else:
        wrong = connect(with_credentials(uri, user, "not-the-password"))
        over_tls(checks, uri, authorized, wrong, stream, count)
    emit({"check": "summary", "ok": not checks.failed, "passed": len(checks.passed), "failed": checks.failed, "client": CLIENT_VERSION})
    return not checks.failed


def refused(action: Any, what: str) -> dict[str, Any]:
    error = expect_error(action, REFUSED, what)
    return {"error": f"{type(error).__name__}: {error}"}


def over_tls(checks: Checks, uri: str, authorized: Any, wrong: Any, stream: str, count: int) -> None:
    def read() -> dict[str, Any]:
        events = authorized.get_stream(stream)
        expect_equal([e.stream_position for e in events], list(range(count)), f"revisions of {stream}")
        return {"events": len(events)}

    def read_all() -> dict[str, Any]:
        events = list(authorized.read_all(filter_exclude=(), limit=1000))
        expect(any(e.stream_name == stream for e in events), f"no event of {stream} in $all")
        return {"events": len(events)}

    def missing() -> dict[str, Any]:
        error = expect_error(lambda: authorized.get_stream(f"{stream}-missing"), NotFoundError, "read a missing stream")
        return {"error": type(error).__name__}

    def append() -> dict[str, Any]:
        event = new_event("Authorized", {})
        authorized.append_to_stream(stream, events=event, current_version=count - 1)
        expect_equal(authorized.get_stream(stream)[-1].id, event.id, "the appended event")
        return {"revision": count}

    def subscribe() -> dict[str, Any]:
        watcher = Watcher(authorized.subscribe_to_stream(stream))
        try:
            items = watcher.wait_for(lambda items: len(items) >= count + 1, 15, "the stream's events")
        finally:
            watcher.stop()
        return {"events": len(items)}

    checks.run("auth-read-with-credentials", read)
    checks.run("auth-read-all-with-credentials", read_all)
    checks.run("auth-missing-stream-with-credentials", missing)
    checks.run("auth-append-with-credentials", append)
    checks.run("auth-subscribe-with-credentials", subscribe)
    # Over TLS the client insists on credentials before it connects.
    checks.run(
        "auth-tls-client-needs-credentials",
        lambda: {"error": str(expect_error(lambda: connect(uri), ValueError, "a TLS client without credentials"))},
    )
    checks.run("auth-read-wrong-password", lambda: refused(lambda: wrong.get_stream(stream), "read"))
    checks.run(
        "auth-append-wrong-password",
        lambda: refused(
            lambda: wrong.append_to_stream(stream, events=new_event("Sneaky", {}), current_version=StreamState.ANY),
            "append",
        ),
    )


def cleartext(checks: Checks, authorized: Any, anonymous: Any, stream: str, user: str, password: str) -> None:
    def not_sent() -> dict[str, Any]:
        expect(authorized._call_credentials is None, "the client built call credentials for a cleartext channel")
        return refused(lambda: authorized.get_stream(stream), "read with credentials in a tls=false string")

    def per_call() -> dict[str, Any]:
        credentials = grpc.metadata_call_credentials(BasicAuthCallCredentials(user, password))
        error = expect_error(
            lambda: authorized.get_stream(stream, credentials=credentials), UnauthenticatedError, "read"
        )
        expect("security level" in str(error), f"gRPC refuses to send the credentials: {error}")
        return {"error": str(error)}

    checks.run("auth-cleartext-credentials-not-sent", not_sent)
    checks.run("auth-cleartext-call-credentials-refused-by-grpc", per_call)
    checks.run("auth-cleartext-read-without-credentials", lambda: refused(lambda: anonymous.get_stream(stream), "read"))
