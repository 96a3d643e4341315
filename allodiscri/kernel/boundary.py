"""Errors that cross the RPC boundary, and input loading that refuses with field-named reasons.

nameko sends a failed call back as RemoteError(exc_type, value); `value` here is JSON, so a
caller can read which field failed and why.
"""

from __future__ import annotations

import json
from typing import Any

from marshmallow import Schema, ValidationError, fields

from allodiscri.kernel.events import EventIdConflict, WrongExpectedVersion


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
