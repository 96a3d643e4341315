"""Old event versions stay readable: every past version is stored, then read at its current."""

from datetime import UTC, datetime

import pytest

from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.kernel.events import ANY, NewEvent, RecordedEvent
from allodiscri.platform.store import EventStore
from allodiscri.tools.asyncapi import example
from tests.helpers import meta


def stored_data(contract):
    """Data of this version as the log holds it: loaded, then dumped (times as ISO strings)."""
    schema = contract.schema()
    return schema.dump(schema.load(example(schema)))


def test_events_of_every_past_version_read_back_at_the_current_version(database):
    writer = EventStore(database)
    writer.ensure_indexes()
    versions = CATALOGUE.all_versions()
    past = [c for c in versions if c.version < CATALOGUE.contract(c.type).version]
    assert {c.type for c in past} >= {"ReportReceived", "CaseOpened", "ReferralRequested"}
    for contract in versions:
        stream = f"{contract.stream_type}-{contract.type.lower()}-v{contract.version}"
        event = NewEvent(contract.type, stored_data(contract), meta(), contract.version)
        writer.append(stream, event, ANY)
    assert {(e["type"], e["schema_version"]) for e in database.events.find()} == {
        (c.type, c.version) for c in versions
    }

    read = list(EventStore(database, upcaster=CATALOGUE.upcast).read_all())
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
    stored = RecordedEvent(
        "e", f"{contract.stream_type}-1", contract.stream_type, 1, 1, contract.type,
        contract.version, stored_data(contract), meta(), datetime.now(UTC), "", "",
    )  # fmt: skip
    upcast = CATALOGUE.upcast(stored)
    current = CATALOGUE.contract(contract.type)
    assert upcast.schema_version == current.version
    assert set(upcast.data) == set(current.schema().fields)
    current.schema().load(upcast.data)
