"""The AsyncAPI document stays in sync with the schemas, and its examples hold."""

import re
import uuid
from datetime import date, datetime
from pathlib import Path

import pytest

from allodiscri.asyncapi import document, example, published, render
from allodiscri.catalogue import CATALOGUE

ASYNCAPI = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def test_the_asyncapi_document_matches_the_schemas():
    assert ASYNCAPI.read_text(encoding="utf-8") == render(), (
        "docs/asyncapi.yaml is stale: run `python -m allodiscri.asyncapi > docs/asyncapi.yaml`"
    )


def violations(value, schema, path="$"):
    """A small JSON Schema checker for the subset the document uses."""
    if "oneOf" in schema:
        if all(violations(value, option, path) for option in schema["oneOf"]):
            return [f"{path}: matches no alternative"]
        return []
    kind = schema["type"]
    python = {"object": dict, "array": list, "string": str, "integer": int, "null": type(None)}
    if not isinstance(value, python[kind]) or (kind == "integer" and isinstance(value, bool)):
        return [f"{path}: not a {kind}"]
    found = []
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} not allowed")
    if kind == "string":
        if len(value) > schema.get("maxLength", len(value)):
            found.append(f"{path}: too long")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{path}: does not match {schema['pattern']}")
        checks = {
            "uuid": uuid.UUID,
            "date": date.fromisoformat,
            "date-time": datetime.fromisoformat,
            "email": lambda text: text.index("@"),
        }
        try:
            checks.get(schema.get("format"), str)(value)
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


@pytest.mark.parametrize("contract", CATALOGUE.contracts(), ids=lambda c: c.type)
def test_every_example_is_valid_for_its_schema_and_its_json_schema(contract):
    sample = example(contract.schema())
    contract.schema().load(sample)  # raises if the example is not valid
    if not published(contract):
        return
    message = document()["components"]["messages"][contract.type]
    assert message["examples"][0]["payload"]["data"] == sample
    data_schema = message["payload"]["properties"]["data"]
    assert violations(sample, data_schema) == []
    assert violations({**sample, "$where": "1"}, data_schema) == ["$.$where: not allowed"]


def test_every_published_event_has_a_channel_on_its_owners_exchange():
    channels = document()["channels"]
    for contract in CATALOGUE.contracts():
        name = f"{contract.exchange}/{contract.type}"
        assert (name in channels) == published(contract)
        if published(contract):
            binding = channels[name]["bindings"]["amqp"]
            assert binding["exchange"]["name"] == contract.exchange
            assert binding["exchange"]["type"] == "topic"
