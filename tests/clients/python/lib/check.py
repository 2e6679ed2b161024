"""`check` mode: every common path of the client against one node, each a
named check; a summary line at the end lists what failed and the orders the
connector must deliver."""

from __future__ import annotations

import platform

from .appends import run_appends
from .cluster import run_cluster
from .common import CLIENT_VERSION, Checks, connect, emit
from .context import Run
from .lifecycle import run_lifecycle
from .reads import run_reads
from .subscriptions import run_subscriptions


def run_check(uri: str, token: str) -> bool:
    checks = Checks()
    run = Run(uri=uri, token=token, client=connect(uri))
    run_appends(checks, run)
    run_reads(checks, run)
    run_subscriptions(checks, run)
    run_lifecycle(checks, run)
    run_cluster(checks, run)
    emit(
        {
            "check": "summary",
            "ok": not checks.failed,
            "passed": len(checks.passed),
            "failed": checks.failed,
            "client": CLIENT_VERSION,
            "python": platform.python_version(),
            "stream": run.orders_stream,
            "orders": run.orders,
        }
    )
    return not checks.failed
