"""Old event versions stay readable: every past version is stored, then read at its current."""

import pytest

from allodiscri.asyncapi import example
from allodiscri.catalogue import CATALOGUE
from allodiscri.events import ANY, NewEvent
from allodiscri.store import EventStore
from tests.helpers import meta


def test_events_of_every_past_version_read_back_at_the_current_version(database):
    writer = EventStore(database)
    writer.ensure_indexes()
    versions = CATALOGUE.all_versions()
    assert any(contract.version > 1 for contract in versions), "no past version to read"
    for contract in versions:
        data = contract.schema().dump(contract.schema().load(example(contract.schema())))
        stream = f"{contract.stream_type}-{contract.type.lower()}-v{contract.version}"
        writer.append(stream, NewEvent(contract.type, data, meta(), contract.version), ANY)

    reader = EventStore(database, upcaster=CATALOGUE.upcast)
    read = list(reader.read_all())
    assert len(read) == len(versions)
    for event in read:
        current = CATALOGUE.contract(event.type)
        assert event.schema_version == current.version
        current.schema().load(event.data)  # raises if the upcast data does not fit
    # v1 had no purpose: it reads as "unspecified"; v2's example keeps its own.
    assert [e.data["purpose"] for e in read if e.type == "ReferralRequested"] == [
        "unspecified",
        example(CATALOGUE.contract("ReferralRequested").schema())["purpose"],
    ]


@pytest.mark.parametrize(
    "contract", CATALOGUE.all_versions(), ids=lambda c: f"{c.type}-v{c.version}"
)
def test_each_version_upcasts_alone(contract):
    from datetime import UTC, datetime

    from allodiscri.events import RecordedEvent

    data = contract.schema().dump(contract.schema().load(example(contract.schema())))
    stored = RecordedEvent(
        "e", f"{contract.stream_type}-1", contract.stream_type, 1, 1, contract.type,
        contract.version, data, meta(), datetime.now(UTC), "", "",
    )  # fmt: skip
    upcast = CATALOGUE.upcast(stored)
    assert upcast.schema_version == CATALOGUE.contract(contract.type).version
    CATALOGUE.contract(contract.type).schema().load(upcast.data)
