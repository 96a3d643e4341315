import pytest
from marshmallow import Schema, ValidationError, fields

from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.kernel.contracts import ContractRegistry, EventContract, UnknownEventType
from allodiscri.kernel.events import RecordedEvent
from tests.helpers import meta


class NoteV1(Schema):
    text = fields.String(required=True)


class NoteV2(Schema):
    text = fields.String(required=True)
    language = fields.String(required=True)


class NoteV3(Schema):
    body = fields.String(required=True)
    language = fields.String(required=True)


def contract(version, schema):
    return EventContract("Noted", version, schema, "tests", "note", "A note.")


def recorded(data, schema_version):
    return RecordedEvent(
        id="e1",
        stream="note-1",
        stream_type="note",
        version=1,
        position=1,
        type="Noted",
        schema_version=schema_version,
        data=data,
        meta=meta(),
        recorded_at=None,
        prev_hash="",
        hash="",
    )


@pytest.fixture
def registry():
    registry = ContractRegistry()
    registry.register(contract(1, NoteV1))
    registry.register(contract(2, NoteV2))
    registry.register(contract(3, NoteV3))
    registry.register_upcaster("Noted", 1, lambda data: {**data, "language": "fr"})
    registry.register_upcaster(
        "Noted", 2, lambda data: {"body": data["text"], "language": data["language"]}
    )
    return registry


def test_old_versions_upcast_through_every_step(registry):
    event = registry.upcast(recorded({"text": "bonjour"}, 1))
    assert event.schema_version == 3
    assert event.data == {"body": "bonjour", "language": "fr"}
    assert registry.upcast(recorded({"text": "hi", "language": "en"}, 2)).data == {
        "body": "hi",
        "language": "en",
    }


def test_current_version_and_unknown_types_pass_unchanged(registry):
    current = recorded({"body": "b", "language": "fr"}, 3)
    assert registry.upcast(current) is current


def test_a_missing_upcaster_is_a_clear_error():
    registry = ContractRegistry()
    registry.register(contract(1, NoteV1))
    registry.register(contract(2, NoteV2))
    with pytest.raises(ValueError, match="no upcaster for Noted v1"):
        registry.upcast(recorded({"text": "x"}, 1))


def test_a_contract_cannot_go_back_a_version(registry):
    with pytest.raises(ValueError, match="not newer"):
        registry.register(contract(2, NoteV2))


def test_new_events_are_validated_and_stamped_with_the_latest_version(registry):
    event = registry.new_event("Noted", {"body": "b", "language": "fr"}, meta())
    assert event.schema_version == 3
    with pytest.raises(ValidationError) as refused:
        registry.new_event("Noted", {"body": 12}, meta())
    assert set(refused.value.messages) == {"body", "language"}
    with pytest.raises(UnknownEventType):
        registry.new_event("Unheard", {}, meta())


def test_the_catalogue_names_each_exchange_by_its_owner():
    exchanges = {contract.type: contract.exchange for contract in CATALOGUE.contracts()}
    assert exchanges["ReportReceived"] == "intake.events"
    assert exchanges["CaseOpened"] == exchanges["CaseClosed"] == "cases.events"
    assert exchanges["IdentityAccessGranted"] == "cases.events"
    assert exchanges["ReferralAnswered"] == "referrals.events"
    streams = {contract.type: contract.stream_type for contract in CATALOGUE.contracts()}
    assert streams["CaseContentRead"] == "access" and streams["CaseReopened"] == "case"


def test_old_versions_stay_registered_next_to_the_current_one():
    versions = {(c.type, c.version) for c in CATALOGUE.all_versions()}
    assert {("CaseOpened", 1), ("CaseOpened", 2), ("ReferralRequested", 1)} <= versions
    assert CATALOGUE.contract("CaseOpened").version == 2
