"""`bench` mode: append (one event per call, sequentially; lists of 100),
read a stream, read `$all`, catch up with a subscription to `$all`; prints
one JSON object with rates and the client's CPU time per event."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from typing import Any

from kurrentdbclient import StreamState

from .common import CLIENT_VERSION, Watcher, connect, fail
from .context import new_event

#: About 250 bytes of JSON, like the store benchmarks' events.
ORDER = {
    "customer": {"name": "Ada Lovelace", "tier": "gold"},
    "lines": [{"sku": "sku-1234", "quantity": 2, "price": 19.99}, {"sku": "sku-5678", "quantity": 1, "price": 89.5}],
    "total": 129.48,
    "currency": "EUR",
}


def bench_event(n: int) -> Any:
    return new_event("OrderPlaced", {"orderId": f"order-{n}", "customerId": f"customer-{n % 1000}", **ORDER})


def timed(body: Callable[[], int]) -> dict[str, Any]:
    """Runs `body` (which returns how many events it handled): wall time,
    rate, and this process's CPU time (all its threads) per event."""
    cpu = time.process_time()
    started = time.perf_counter()
    count = body()
    seconds = time.perf_counter() - started
    used = time.process_time() - cpu
    return {
        "count": count,
        "ms": round(seconds * 1000),
        "perSecond": round(count / seconds) if seconds > 0 else None,
        "clientCpuUsPerEvent": round(used * 1e6 / count, 1) if count else None,
    }


def run_bench(uri: str, options: dict[str, int]) -> bool:
    client = connect(uri)
    run = format(int(time.time() * 1000), "x")
    single = options.get("single", 2000)
    batches = options.get("batches", 200)
    read = batches * 100
    batch_stream = f"bench-batches-{run}"
    results: dict[str, Any] = {}
    client.append_to_stream(f"bench-warmup-{run}", events=bench_event(0), current_version=StreamState.ANY)

    def sequential() -> int:
        stream = f"bench-single-{run}"
        for n in range(single):
            client.append_to_stream(stream, events=bench_event(n), current_version=StreamState.ANY)
        return single

    results["appendSequential"] = timed(sequential)

    def in_batches() -> int:
        for b in range(batches):
            events = [bench_event(b * 100 + i) for i in range(100)]
            client.append_to_stream(batch_stream, events=events, current_version=StreamState.ANY)
        return batches * 100

    results["appendBatchesOf100"] = timed(in_batches)

    def read_stream() -> int:
        count = sum(1 for _ in client.read_stream(batch_stream))
        if count < read:
            fail(f"read {count} of {read} events from {batch_stream}")
        return count

    results["readStreamForwards"] = [timed(read_stream) for _ in range(3)]

    def read_all(**filters: Any) -> Callable[[], int]:
        return lambda: sum(1 for _ in client.read_all(**filters))

    results["readAllForwards"] = [timed(read_all(filter_exclude=())) for _ in range(3)]
    results["readAllDefaultFilter"] = timed(read_all())

    total = results["readAllForwards"][0]["count"]

    def catch_up() -> int:
        watcher = Watcher(client.subscribe_to_all(filter_exclude=()))
        try:
            watcher.wait_for(lambda items: len(items) >= total, 300, f"{total} events from the subscription")
        finally:
            watcher.stop()
        return total

    results["subscribeAllCatchUp"] = timed(catch_up)
    print(
        json.dumps(
            {
                "client": f"kurrentdbclient {CLIENT_VERSION}",
                "python": platform.python_version(),
                "platform": f"{platform.system().lower()}-{platform.machine()}",
                "results": results,
            },
            indent=2,
        ),
        flush=True,
    )
    return True
