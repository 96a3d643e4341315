"""The AsyncAPI 2.6 document of the published events, generated from the marshmallow schemas.

`python -m allodiscri.asyncapi > docs/asyncapi.yaml`; a test fails when it is stale. Each event
type is a channel on its owner's topic exchange (routing key = type); the message payload is
the envelope of docs/events.md with the event's data schema inside, and an example.
"""

from __future__ import annotations

import uuid
from typing import Any

import yaml
from marshmallow import Schema, fields, validate

from allodiscri.catalogue import CATALOGUE
from allodiscri.contracts import EventContract
from allodiscri.publishing import ENVELOPE_VERSION

EXAMPLE_UUID = str(uuid.UUID("6f1c5a2e-1111-4222-8333-444455556666"))
UNPUBLISHED_SERVICES = frozenset({"security"})


def json_schema(field: fields.Field) -> dict[str, Any]:
    """The JSON Schema of one marshmallow field: type, format, enum, length."""
    if isinstance(field, fields.Nested):
        return object_schema(field.schema)
    if isinstance(field, fields.List):
        schema: dict[str, Any] = {"type": "array", "items": json_schema(field.inner)}
    elif isinstance(field, fields.Integer):
        schema = {"type": "integer"}
    elif isinstance(field, fields.Boolean):
        schema = {"type": "boolean"}
    else:
        schema = {"type": "string"}
        formats = {
            fields.UUID: "uuid",
            fields.AwareDateTime: "date-time",
            fields.Date: "date",
            fields.Email: "email",
        }
        for kind, name in formats.items():
            if isinstance(field, kind):
                schema["format"] = name
                break
    for validator in field.validators:
        if isinstance(validator, validate.OneOf):
            schema["enum"] = list(validator.choices)
        elif isinstance(validator, validate.Length) and validator.max is not None:
            schema["maxItems" if schema["type"] == "array" else "maxLength"] = validator.max
    if field.allow_none:
        schema = {"oneOf": [schema, {"type": "null"}]}
    return schema


def object_schema(schema: Schema) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": sorted(name for name, field in schema.fields.items() if field.required),
        "properties": {name: json_schema(field) for name, field in schema.fields.items()},
    }


def example_value(field: fields.Field) -> Any:
    """A plausible value for a field: the first allowed code, a fixed id, a fixed date."""
    if isinstance(field, fields.Nested):
        return example(field.schema)
    if isinstance(field, fields.List):
        return [example_value(field.inner)]
    for validator in field.validators:
        if isinstance(validator, validate.OneOf):
            return list(validator.choices)[0]
    if isinstance(field, fields.UUID):
        return EXAMPLE_UUID
    if isinstance(field, fields.AwareDateTime):
        return "2026-11-27T09:30:00+01:00"
    if isinstance(field, fields.Date):
        return "2026-11-27"
    if isinstance(field, fields.Email):
        return "agent@interieur.example"
    if isinstance(field, fields.Integer):
        return 1
    for validator in field.validators:
        if isinstance(validator, validate.Regexp):
            return "0" * 64
    return "texte"


def example(schema: Schema) -> dict[str, Any]:
    return {name: example_value(field) for name, field in schema.fields.items()}


def published(contract: EventContract) -> bool:
    return contract.service not in UNPUBLISHED_SERVICES


def envelope_schema(contract: EventContract) -> dict[str, Any]:
    meta = {
        name: {"oneOf": [{"type": "string"}, {"type": "null"}]}
        if name == "causation_id"
        else {"type": "string"}
        for name in (
            "actor_id", "actor_role", "platform", "service", "correlation_id", "causation_id",
        )
    }  # fmt: skip
    return {
        "type": "object",
        "required": [
            "envelope_version",
            "id",
            "type",
            "schema_version",
            "stream",
            "stream_type",
            "version",
            "position",
            "recorded_at",
            "data",
            "meta",
            "prev_hash",
            "hash",
        ],  # fmt: skip
        "properties": {
            "envelope_version": {"type": "integer", "enum": [ENVELOPE_VERSION]},
            "id": {"type": "string", "format": "uuid"},
            "type": {"type": "string", "enum": [contract.type]},
            "schema_version": {"type": "integer", "enum": [contract.version]},
            "stream": {"type": "string", "pattern": f"^{contract.stream_type}-"},
            "stream_type": {"type": "string", "enum": [contract.stream_type]},
            "version": {"type": "integer", "minimum": 1},
            "position": {"type": "integer", "minimum": 1},
            "recorded_at": {"type": "string", "format": "date-time"},
            "data": object_schema(contract.schema()),
            "meta": {"type": "object", "required": sorted(meta), "properties": meta},
            "prev_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        },
    }


def document() -> dict[str, Any]:
    channels, messages = {}, {}
    for contract in CATALOGUE.contracts():
        if not published(contract):
            continue
        messages[contract.type] = {
            "name": contract.type,
            "summary": contract.description,
            "contentType": "application/json",
            "x-schema-version": contract.version,
            "payload": envelope_schema(contract),
            "examples": [{"payload": {"data": example(contract.schema())}}],
        }
        channels[f"{contract.exchange}/{contract.type}"] = {
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": contract.exchange,
                        "type": "topic",
                        "durable": True,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": "0.2.0",
                }
            },
            "subscribe": {
                "operationId": f"receive{contract.type}",
                "summary": contract.description,
                "message": {"$ref": f"#/components/messages/{contract.type}"},
            },
        }
    return {
        "asyncapi": "2.6.0",
        "info": {
            "title": "Allo Discri published events",
            "version": "1",
            "description": (
                "Events of the listening cells' case-management platform, published by each "
                "service on its topic exchange, routing key = event type. Delivery is "
                "at-least-once: de-duplicate by the envelope's id (also the AMQP message_id)."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages},
    }


def render() -> str:
    return yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=100)


if __name__ == "__main__":
    print(render(), end="")
