"""What the checks of one run share: the client, the run's token and the
stream names derived from it, and a maker of events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from kurrentdbclient import KurrentDBClient, NewEvent


def new_event(event_type: str, data: dict[str, Any], event_id: UUID | None = None) -> NewEvent:
    """A JSON event."""
    return NewEvent(
        type=event_type,
        data=json.dumps(data, separators=(",", ":")).encode(),
        metadata=b"",
        content_type="application/json",
        id=event_id or uuid4(),
    )


@dataclass
class Run:
    uri: str
    token: str
    client: KurrentDBClient
    #: The orders the connector must deliver, in order: id, revision, type, data.
    orders: list[dict[str, Any]] = field(default_factory=list)

    def stream(self, name: str) -> str:
        """A stream name unique to this run."""
        return f"{name}-{self.token}"

    @property
    def orders_stream(self) -> str:
        return self.stream("py-orders")
