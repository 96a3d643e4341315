"""Valid data for any catalogue schema, every personal value distinct and easy to find.

Built from the marshmallow fields themselves, so a new event type or a new personal field is
covered by the sealing tests without anyone writing its example by hand.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

from marshmallow import Schema, fields

from allodiscri.kernel.contracts import EACH, Path
from allodiscri.tools.asyncapi import example_value


class ExampleBuilder:
    """Fills every field, optional ones included; personal text is `perso-<n>-é` (unique)."""

    def __init__(self, subject: str | None = None):
        self.subject = subject or str(uuid.uuid4())
        self.personal: list[str] = []
        self._numbers = itertools.count(1)

    def data(self, schema: Schema) -> dict[str, Any]:
        return {
            field.data_key or name: self.value(name, field) for name, field in schema.fields.items()
        }

    def value(self, name: str, field: fields.Field) -> Any:
        if isinstance(field, fields.Nested):
            return self.data(field.schema)
        if isinstance(field, fields.List):
            personal = field.inner.metadata.get("personal")
            count = 2 if personal or isinstance(field.inner, fields.Nested) else 1
            return [self.value(name, field.inner) for _ in range(count)]
        if field.metadata.get("personal"):
            return self._personal(field)
        if isinstance(field, fields.UUID):
            return self.subject if name in ("case_id", "report_id") else str(uuid.uuid4())
        return example_value(field)

    def _personal(self, field: fields.Field) -> str:
        number = next(self._numbers)
        text = (
            f"perso-{number}@example.org"
            if isinstance(field, fields.Email)
            else f"perso-{number}-é"
        )
        self.personal.append(text)
        return text


def values_at(data: Any, path: Path) -> list[Any]:
    """Every value at `path` (`*` goes through each item of a list); absent steps give none."""
    if not path:
        return [data]
    step, rest = path[0], path[1:]
    if step == EACH:
        return [found for item in data or [] for found in values_at(item, rest)]
    if not isinstance(data, dict) or step not in data:
        return []
    return values_at(data[step], rest)


def replaced_at(data: Any, path: Path, value: Any) -> Any:
    """A copy of `data` with `value` at `path` (in every item where the path crosses a list)."""
    if not path:
        return value
    step, rest = path[0], path[1:]
    if step == EACH:
        return [replaced_at(item, rest, value) for item in data]
    return {**data, step: replaced_at(data[step], rest, value)}


def leaves(data: Any, prefix: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, value) of every leaf, lists as `*`; a sealed object counts as one leaf."""
    if isinstance(data, dict) and data and set(data) != {"sealed"}:
        for name, item in data.items():
            yield from leaves(item, (*prefix, name))
    elif isinstance(data, list):
        for item in data:
            yield from leaves(item, (*prefix, EACH))
    else:
        yield prefix, data


def flip_a_bit(sealed_value: dict[str, str], at: int = -1) -> dict[str, str]:
    """A sealed object with one bit of its nonce, ciphertext or tag changed, as an attacker
    with write access to the database could."""
    raw = bytearray(base64.b64decode(sealed_value["sealed"]))
    raw[at] ^= 1
    return {"sealed": base64.b64encode(bytes(raw)).decode()}
