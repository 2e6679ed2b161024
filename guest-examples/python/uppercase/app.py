"""python-transform: upper-cases one string field of JSON event data.

Config: {"field": "name"} (optional; `field` defaults to "name").

For each event whose data is a JSON object: the string at `field`, when
there is one, is upper-cased, `"transformedBy": "python"` is added, and the
record carries the header `transformed-by: python`. An event whose data is not
a JSON object fails with `invalid-event` (it goes to the dead-letter stream).
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import logging
from wit_world.imports.types import (
    Emitted,
    Error,
    ErrorKind,
    Event,
    Outcome,
    Outcome_Emit,
    Outcome_Fail,
)

_field = None


def _fatal(message: str) -> Err:
    return Err(Error(kind=ErrorKind.FATAL, message=message))


def _transform_one(field: str, event: Event) -> Outcome:
    try:
        value = json.loads(bytes(event.data))
    except (ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        return Outcome_Fail(
            Error(kind=ErrorKind.INVALID_EVENT, message="data is not a JSON object")
        )
    if isinstance(value.get(field), str):
        value[field] = value[field].upper()
    value["transformedBy"] = "python"
    return Outcome_Emit(
        [
            Emitted(
                data=json.dumps(value, separators=(",", ":")).encode(),
                event_type=None,
                content_type="application/json",
                headers=[("transformed-by", "python")],
            )
        ]
    )


class WitWorld(wit_world.WitWorld):
    def init(self, config: str) -> None:
        global _field
        try:
            parsed = json.loads(config)
        except ValueError as e:
            raise _fatal(f"config is not valid JSON: {e}")
        if not isinstance(parsed, dict):
            raise _fatal("config must be a JSON object")
        field = parsed.get("field", "name")
        if not isinstance(field, str) or not field:
            raise _fatal("config `field` must be a non-empty string")
        _field = field
        logging.log(logging.Level.INFO, f"python-transform: upper-cases `{field}`")

    def transform(self, events: list[Event]) -> list[Outcome]:
        if _field is None:
            raise _fatal("transform called before init")
        return [_transform_one(_field, event) for event in events]
