"""The JSON that crosses the broker: kombu's, except that an undecodable typed value reaches
the entrypoint's schema instead of dropping the message.

Imported by the nameko providers and entrypoints, so every service process registers it.
"""

from __future__ import annotations

from typing import Any

from kombu.serialization import register as register_serializer
from kombu.utils import json as kombu_json


def _decode_typed_value(value: dict) -> Any:
    """kombu's `{"__type__", "__value__"}` decoding, leaving an undecodable one a plain dict.

    kombu raises on such a value before nameko sees the call, so the message is dropped and
    the caller waits for its timeout; left as a dict, the entrypoint's schema refuses it with
    a field-named InvalidInput like any other wrong type.
    """
    try:
        return kombu_json.object_hook(value)
    except (ValueError, TypeError, AttributeError):
        return value


def _loads_json(body: Any) -> Any:
    return kombu_json.loads(body, object_hook=_decode_typed_value)


register_serializer(
    "json",
    kombu_json.dumps,
    _loads_json,
    content_type="application/json",
    content_encoding="utf-8",
)
