"""The AsyncAPI document stays in sync with the schemas, and its examples hold."""

import copy
import functools
import re
import uuid
from datetime import date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from marshmallow import Schema, fields

from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.kernel.contracts import EACH
from allodiscri.kernel.hashing import GENESIS_HASH, document_hash
from allodiscri.platform.crypto import FieldCipher
from allodiscri.platform.publishing import envelope
from allodiscri.platform.store import event_from_document
from allodiscri.tools.asyncapi import (
    UnsupportedField,
    document,
    example,
    example_envelope,
    json_schema,
    published,
    render,
    sealed_example,
)
from tests.helpers import meta, report

ASYNCAPI = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
PUBLISHED = [contract for contract in CATALOGUE.contracts() if published(contract)]


def test_the_asyncapi_document_matches_the_schemas():
    assert ASYNCAPI.read_text(encoding="utf-8") == render(), (
        "docs/asyncapi.yaml is stale: "
        "run `python -m allodiscri.tools.asyncapi > docs/asyncapi.yaml`"
    )


def _date_time(text: str) -> None:
    if "T" not in text or datetime.fromisoformat(text).tzinfo is None:
        raise ValueError(text)


FORMATS = {
    "uuid": uuid.UUID,
    "date": date.fromisoformat,
    "date-time": _date_time,
    "email": lambda text: text.index("@"),
}
TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "boolean": bool,
    "null": type(None),
}


def violations(value, schema, path="$"):
    """A small JSON Schema checker for the subset the document uses."""
    if "oneOf" in schema:
        matching = [option for option in schema["oneOf"] if not violations(value, option, path)]
        return [] if len(matching) == 1 else [f"{path}: matches {len(matching)} alternatives"]
    kind = schema["type"]
    if not isinstance(value, TYPES[kind]) or (kind == "integer" and isinstance(value, bool)):
        return [f"{path}: not a {kind}"]
    found = []
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} not allowed")
    if value is not None and not isinstance(value, dict | bool):
        size = value if kind == "integer" else len(value)
        low = schema.get("minimum", schema.get("minLength", schema.get("minItems")))
        high = schema.get("maximum", schema.get("maxLength", schema.get("maxItems")))
        if (low is not None and size < low) or (high is not None and size > high):
            found.append(f"{path}: out of bounds")
    if kind == "string":
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{path}: does not match {schema['pattern']}")
        try:
            FORMATS.get(schema.get("format"), str)(value)
        except ValueError:
            found.append(f"{path}: not a {schema['format']}")
    if kind == "array":
        for index, item in enumerate(value):
            found += violations(item, schema["items"], f"{path}[{index}]")
    if kind == "object":
        found += [f"{path}.{name}: missing" for name in schema["required"] if name not in value]
        for name, item in value.items():
            if name not in schema["properties"]:
                if schema.get("additionalProperties") is False:
                    found.append(f"{path}.{name}: not allowed")
                continue
            found += violations(item, schema["properties"][name], f"{path}.{name}")
    return found


class OneDataKey:
    """Stands for DataKeys: one data key for every case, so sealing needs no database."""

    key = AESGCM.generate_key(bit_length=256)

    def key_for_sealing(self, subject):
        return self.key

    def key_for_opening(self, subject, fresh=False):
        return self.key


CIPHER = FieldCipher(OneDataKey(), CATALOGUE.personal_paths)


@functools.cache
def _document():
    return document()


def _message(event_type):
    return _document()["components"]["messages"][event_type]


@pytest.mark.parametrize("contract", CATALOGUE.contracts(), ids=lambda c: c.type)
def test_every_example_is_valid_for_its_schema(contract):
    sample = example(contract.schema())
    assert set(sample) == set(contract.schema().fields)
    contract.schema().load(sample)  # raises if the example is not valid


@pytest.mark.parametrize("contract", PUBLISHED, ids=lambda c: c.type)
def test_every_example_envelope_is_valid_for_its_json_schema(contract):
    message = _message(contract.type)
    sample = message["examples"][0]["payload"]
    assert sample == example_envelope(contract)
    assert sample["data"] == sealed_example(contract.schema())
    assert violations(sample, message["payload"]) == []
    # The data as the platform stores and publishes it (dumped after loading, then sealed by
    # the real cipher) fits as well, and opens back to the example.
    schema = contract.schema()
    dumped = schema.dump(schema.load(example(schema)))
    sealed = CIPHER.seal(dumped, CATALOGUE.personal_paths(contract.type))
    assert violations({**sample, "data": sealed}, message["payload"]) == []
    assert CIPHER.open(sealed) == dumped


def _personal_paths(schema, path=()):
    """Where a JSON schema of event data says x-personal, as catalogue paths."""
    if "oneOf" in schema:
        return {found for option in schema["oneOf"] for found in _personal_paths(option, path)}
    if schema.get("x-personal"):
        return {path}
    if schema["type"] == "array":
        return _personal_paths(schema["items"], (*path, EACH))
    if schema["type"] == "object":
        return {
            found
            for name, item in schema["properties"].items()
            for found in _personal_paths(item, (*path, name))
        }
    return set()


@pytest.mark.parametrize("contract", PUBLISHED, ids=lambda c: c.type)
def test_exactly_the_catalogues_personal_fields_are_published_sealed(contract):
    data = _message(contract.type)["payload"]["properties"]["data"]
    assert _personal_paths(data) == set(CATALOGUE.personal_paths(contract.type))


def test_a_personal_field_is_the_sealed_object_and_never_text():
    sent = _message("ReferralSent")["payload"]["properties"]["data"]["properties"]
    [sealed, null] = sent["note"]["oneOf"]
    assert null == {"type": "null"}
    assert sealed["type"] == "object" and sealed["x-personal"] is True
    assert sealed["required"] == ["sealed"] and sealed["additionalProperties"] is False
    assert sealed["properties"]["sealed"]["contentEncoding"] == "base64"
    assert "AES-256-GCM" in sealed["description"] and "[effacé]" in sealed["description"]
    real = CIPHER.seal({"case_id": "c", "note": "Camille Martin"}, (("note",),))["note"]
    assert violations(real, sent["note"]) == []
    assert violations(None, sent["note"]) == []
    for forged in (
        "Camille Martin",
        {"sealed": "Camille Martin"},
        {"sealed": "c2VhbGVk"},  # base64, but too short to hold a nonce and a tag
        {**real, "clear": "Camille Martin"},
        {},
    ):
        assert violations(forged, sent["note"]) != [], forged


def test_a_real_report_as_stored_and_enveloped_fits_the_json_schema():
    report_id = str(uuid.uuid4())
    data = {**report(), "report_id": report_id, "received_at": "2026-11-28T09:00:00+00:00"}
    data.update(attachments=[], source_reference=None)
    new = CIPHER.seal_event(CATALOGUE.new_event("ReportReceived", data, meta()))
    stored = {
        "_id": new.id,
        "stream": f"report-{report_id}",
        "stream_type": "report",
        "version": 1,
        "position": 1,
        "type": new.type,
        "schema_version": new.schema_version,
        "data": new.data,
        "meta": new.meta.to_dict(),
        "recorded_at": datetime.fromisoformat("2026-11-28T09:00:01+00:00"),
        "prev_hash": GENESIS_HASH,
    }
    stored["hash"] = document_hash(stored, GENESIS_HASH)
    body = envelope(event_from_document(stored))
    assert violations(body, _message("ReportReceived")["payload"]) == []


def _breaking(body, change):
    broken = copy.deepcopy(body)
    change(broken)
    return broken


BREAKS = {
    "unknown field": lambda b: b["data"].update({"$where": "1"}),
    "missing field": lambda b: b["data"].pop("platform"),
    "code not in the list": lambda b: b["data"].update(platform="XX"),
    "not a uuid": lambda b: b["data"].update(case_id="case-1"),
    "date without offset": lambda b: b["data"].update(received_at="2026-11-27T09:30:00"),
    "null not allowed": lambda b: b["data"].update(channel=None),
    "number for text": lambda b: b["data"]["kinds"].append(3),
    "wrong type": lambda b: b.update(type="CaseClosed"),
    "stream of another type": lambda b: b.update(stream="report-1"),
    "position 0": lambda b: b.update(position=0),
    "bad hash": lambda b: b.update(hash="xyz"),
}


@pytest.mark.parametrize("change", BREAKS.values(), ids=BREAKS.keys())
def test_the_checker_refuses_an_envelope_that_breaks_the_contract(change):
    message = _message("CaseOpened")
    body = message["examples"][0]["payload"]
    assert violations(_breaking(body, change), message["payload"]) != []


def test_lengths_and_ranges_reach_the_json_schema():
    reminded = _message("ReferralReminded")["payload"]["properties"]["data"]["properties"]
    assert reminded["reminder"] == {"type": "integer", "minimum": 1}
    answered = _message("ReferralAnswered")["payload"]["properties"]["data"]["properties"]
    # A sealed field's bounds are those of its text, said under x-opened.
    opened = answered["answer"]["x-opened"]
    assert opened == {"type": "string", "minLength": 1, "maxLength": 10_000}
    assert violations("", opened) == ["$: out of bounds"]
    assert violations("x" * 10_001, opened) == ["$: out of bounds"]


def test_a_field_the_converter_cannot_express_is_refused():
    class WithFloat(Schema):
        score = fields.Float(required=True)

    with pytest.raises(UnsupportedField):
        json_schema(WithFloat().fields["score"])
    with pytest.raises(UnsupportedField):
        example(WithFloat())


def test_every_published_event_has_a_channel_on_its_owners_exchange():
    channels = _document()["channels"]
    for contract in CATALOGUE.contracts():
        name = f"{contract.exchange}/{contract.type}"
        assert (name in channels) == published(contract)
        if published(contract):
            binding = channels[name]["bindings"]["amqp"]
            assert binding["is"] == "routingKey"
            assert binding["exchange"] == {
                "name": contract.exchange,
                "type": "topic",
                "durable": True,
                "autoDelete": False,
                "vhost": "/",
            }
            message = channels[name]["subscribe"]["message"]
            assert message == {"$ref": f"#/components/messages/{contract.type}"}
            assert _message(contract.type)["x-schema-version"] == contract.version
    assert "AccessDenied" not in _document()["components"]["messages"]
