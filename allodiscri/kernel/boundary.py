"""Errors that cross the RPC boundary, and input loading that refuses with field-named reasons.

nameko sends a failed call back as RemoteError(exc_type, value); `value` here is JSON, so a
caller can read which field failed and why.
"""

from __future__ import annotations

import json
import re
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


# C0 controls but tab, line feed and carriage return; DEL. C1 controls stay: a mail in
# Windows-1252 labelled Latin-1 carries them where it meant curly quotes.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text_problem(text: str) -> str | None:
    """Why `text` is not text we keep, or None: the rule for every string a caller sends.

    It must encode as UTF-8 (sealing, hashing and BSON all do; a lone surrogate, which JSON
    escapes can carry, crashed them) and carry no control character but tab and line breaks
    (a NUL cuts the text short in C tools, an escape sequence rewrites an auditor's terminal).
    Right-to-left marks and other format characters are text: Arabic and Hebrew need them.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        code = ord(text[error.start])
        return f"Not valid text: U+{code:04X}, a lone surrogate, cannot be encoded in UTF-8."
    if control := _CONTROL.search(text):
        code = ord(control.group())
        return f"Not valid text: control character U+{code:04X} (only tab and line breaks)."
    return None


def text_errors(payload: Any) -> dict:
    """`text_problem` for every string in `payload`, at its place, as marshmallow nests errors."""
    errors: dict = {}
    pending = [((), payload)]
    while pending:  # not recursive: a payload may be nested as deep as JSON lets it
        path, value = pending.pop()
        if isinstance(value, str) and path and (problem := text_problem(value)):
            place = errors
            for step in path[:-1]:
                place = place.setdefault(step, {})
            place[path[-1]] = [problem]
        elif isinstance(value, dict):
            pending.extend((path + (key,), item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((path + (index,), item) for index, item in enumerate(value))
    return errors


def load(schema: Schema, payload: Any, subject: str) -> Any:
    """`payload` loaded by `schema`, or InvalidInput naming each bad field (text first)."""
    if not isinstance(payload, dict):
        raise InvalidInput(subject, {"_schema": ["Invalid input type: expected an object."]})
    if errors := text_errors(payload):
        raise InvalidInput(subject, errors)
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
