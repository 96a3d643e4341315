"""Versioned event contracts: the marshmallow schema of every event, and how old versions upcast.

Writers build events only through `ContractRegistry.new_event`, so nothing reaches the log that
its schema refuses. Readers get every event at its latest version through `upcast`, so stored
history never has to be rewritten when a contract changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from marshmallow import Schema, fields

from allodiscri.kernel.events import Metadata, NewEvent, RecordedEvent

Path = tuple[str, ...]

EACH = "*"
"""A path step meaning: every item of a list."""


@cache
def personal_paths(schema: type[Schema]) -> tuple[Path, ...]:
    """Where an event's personal fields are, e.g. ("declarant", "name") or ("measures", "*")."""
    return tuple(_paths(schema(), ()))


def _paths(schema: Schema, prefix: Path) -> Iterator[Path]:
    for name, field in schema.fields.items():
        path = (*prefix, field.data_key or name)  # where the dumped data has it
        while isinstance(field, fields.List):
            field, path = field.inner, (*path, EACH)
        if isinstance(field, fields.Nested):
            yield from _paths(field.schema, path)
        elif field.metadata.get("personal"):
            yield path


DataUpcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventType(Exception):
    def __init__(self, event_type: str):
        self.event_type = event_type
        super().__init__(f"no contract for event type {event_type!r}")


@dataclass(frozen=True)
class EventContract:
    type: str
    version: int
    schema: type[Schema]
    service: str
    stream_type: str
    description: str

    @property
    def exchange(self) -> str:
        """The nameko events exchange it is published on."""
        return f"{self.service}.events"


class ContractRegistry:
    def __init__(self) -> None:
        self._contracts: dict[str, EventContract] = {}
        self._all_versions: dict[tuple[str, int], EventContract] = {}
        self._upcasters: dict[tuple[str, int], DataUpcaster] = {}

    def register(self, contract: EventContract) -> EventContract:
        current = self._contracts.get(contract.type)
        if current is not None and current.version >= contract.version:
            raise ValueError(f"{contract.type} v{contract.version} is not newer than registered")
        self._contracts[contract.type] = contract
        self._all_versions[(contract.type, contract.version)] = contract
        return contract

    def register_upcaster(self, event_type: str, from_version: int, upcaster: DataUpcaster):
        """`upcaster` turns data of `from_version` into data of `from_version + 1`."""
        self._upcasters[(event_type, from_version)] = upcaster

    def contract(self, event_type: str) -> EventContract:
        try:
            return self._contracts[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def personal_paths(self, event_type: str) -> tuple[Path, ...]:
        """Where the current version of `event_type` carries personal data, to be sealed."""
        return personal_paths(self.contract(event_type).schema)

    def contracts(self) -> list[EventContract]:
        """The current version of every event type."""
        return sorted(self._contracts.values(), key=lambda c: (c.service, c.type))

    def all_versions(self) -> list[EventContract]:
        """Every version ever registered, the old ones kept so stored history stays readable."""
        return sorted(self._all_versions.values(), key=lambda c: (c.service, c.type, c.version))

    def new_event(
        self,
        event_type: str,
        data: dict[str, Any],
        meta: Metadata,
        event_id: str | None = None,
    ) -> NewEvent:
        """Validate `data` against the latest contract; raise `ValidationError` otherwise."""
        contract = self.contract(event_type)
        schema = contract.schema()
        stored = schema.dump(schema.load(data))
        extra = {} if event_id is None else {"id": event_id}
        return NewEvent(
            type=event_type,
            data=stored,
            meta=meta,
            schema_version=contract.version,
            **extra,
        )

    def upcast(self, event: RecordedEvent) -> RecordedEvent:
        contract = self._contracts.get(event.type)
        if contract is None or event.schema_version == contract.version:
            return event
        data = event.data
        for version in range(event.schema_version, contract.version):
            try:
                data = self._upcasters[(event.type, version)](data)
            except KeyError:
                raise ValueError(f"no upcaster for {event.type} v{version}") from None
        return dataclasses.replace(event, data=data, schema_version=contract.version)
