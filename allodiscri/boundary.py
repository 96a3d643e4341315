"""Errors that cross the RPC boundary, and input loading that refuses with field-named reasons.

nameko sends a failed call back as RemoteError(exc_type, value); `value` here is JSON, so a
caller can read which field failed and why.
"""

from __future__ import annotations

import json
from typing import Any

from kombu.serialization import register as register_serializer
from kombu.utils import json as kombu_json
from marshmallow import Schema, ValidationError, fields

from allodiscri.events import EventIdConflict, WrongExpectedVersion


class InvalidInput(Exception):
    """The payload does not fit its schema; nothing was stored."""

    def __init__(self, subject: str, errors: dict[str, Any]):
        self.subject = subject
        self.errors = errors
        super().__init__(json.dumps({"invalid": subject, "errors": errors}, sort_keys=True))


class NotFound(Exception):
    def __init__(self, what: str, identifier: str):
        self.what = what
        self.identifier = identifier
        super().__init__(json.dumps({"not_found": what, "id": identifier}))


class Refused(Exception):
    """A domain rule refuses the command; the message names the state and the rule."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(json.dumps({"refused": reason}))


EXPECTED_ERRORS = (InvalidInput, NotFound, Refused, WrongExpectedVersion, EventIdConflict)


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


def load(schema: Schema, payload: Any, subject: str) -> Any:
    if not isinstance(payload, dict):
        raise InvalidInput(subject, {"_schema": ["Invalid input type: expected an object."]})
    try:
        return schema.load(payload)
    except ValidationError as error:
        messages = (
            error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        )
        raise InvalidInput(subject, messages) from None


def load_uuid(value: Any, field: str) -> str:
    """A UUID given as a string, in its canonical form."""
    if not isinstance(value, str):
        raise InvalidInput(field, {field: ["Not a valid UUID."]})
    try:
        return str(fields.UUID().deserialize(value))
    except ValidationError as error:
        raise InvalidInput(field, {field: error.messages}) from None


def jsonable(value: Any) -> Any:
    """Read-model documents with datetimes as ISO strings: what an RPC reply carries."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
