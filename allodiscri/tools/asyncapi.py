"""The AsyncAPI 2.6 document of the published events, generated from the marshmallow schemas.

`python -m allodiscri.tools.asyncapi > docs/asyncapi.yaml`; a test fails when it is stale.
Each event type is a channel on its owner's topic exchange (routing key = type); the message
payload is the envelope of docs/events.md with the event's data schema inside, and a whole example
envelope built by the same code that publishes.

A personal field travels sealed (allodiscri/platform/crypto.py): its schema is the sealed object a
subscriber receives, with the text it seals described under `x-opened`, and the examples show
it sealed, as published. `example` gives the data before sealing, which the marshmallow schema
accepts.

The converter knows the field types and validators the catalogue uses and refuses any other,
so a new kind of field cannot slip into the contract with a wrong or empty schema.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import yaml
from marshmallow import Schema, fields, validate

from allodiscri.kernel.catalogue import CATALOGUE, SHA256_PATTERN
from allodiscri.kernel.contracts import EventContract
from allodiscri.kernel.events import Metadata
from allodiscri.kernel.hashing import GENESIS_HASH, document_hash
from allodiscri.platform.crypto import ERASED, NONCE_BYTES, SEALED, TAG_BYTES
from allodiscri.platform.publishing import ENVELOPE_VERSION, envelope
from allodiscri.platform.store import event_from_document

EXAMPLE_UUID = str(uuid.UUID("6f1c5a2e-1111-4222-8333-444455556666"))
EXAMPLE_EVENT_ID = str(uuid.UUID("0b7e3c4d-5555-4666-8777-888899990000"))
EXAMPLE_CORRELATION_ID = str(uuid.UUID("3a9d2b10-aaaa-4bbb-8ccc-dddd00001111"))
EXAMPLE_RECORDED_AT = datetime(2026, 11, 27, 8, 30, 0, 123000, tzinfo=UTC)
UNPUBLISHED_SERVICES = frozenset({"security"})

# Stands for any sealed field in the examples: fixed, so the document is reproducible; the
# shape (nonce, ciphertext, tag) of a real one, though it opens with no key.
EXAMPLE_SEALED = base64.b64encode(bytes(range(NONCE_BYTES + 5 + TAG_BYTES))).decode("ascii")
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
SEALED_MIN_LENGTH = 4 * -(-(NONCE_BYTES + 1 + TAG_BYTES) // 3)  # one byte of text, in base64
SEALED_DESCRIPTION = (
    "Personal data, sealed: base64 of a 12-byte nonce, the AES-256-GCM ciphertext and its "
    "16-byte tag, under the data key of the case (its id as associated data). It is opened "
    "only inside Allo Discri, for entitled readers; subscribers never receive the key. An "
    f'erased case\'s key is destroyed: its fields stay sealed forever, never reading "{ERASED}". '
    "`x-opened` describes the text once opened."
)

# A sample per Regexp the catalogue uses: no generic way to invent a match for any pattern.
PATTERN_EXAMPLES = {SHA256_PATTERN: "0" * 64}

# Most specific first: UUID and Email are Strings, AwareDateTime is a DateTime.
STRING_FORMATS: tuple[tuple[type[fields.Field], str | None], ...] = (
    (fields.UUID, "uuid"),
    (fields.Email, "email"),
    (fields.AwareDateTime, "date-time"),
    (fields.Date, "date"),
    (fields.String, None),
)


class UnsupportedField(TypeError):
    """A marshmallow field or validator this converter cannot express faithfully."""


def _string_format(field: fields.Field) -> tuple[bool, str | None]:
    for kind, name in STRING_FORMATS:
        if isinstance(field, kind):
            return True, name
    return False, None


def _constraints(field: fields.Field, schema: dict[str, Any]) -> None:
    """Adds what the field's validators allow to `schema`; callables stay out (`_unique`)."""
    array = schema["type"] == "array"
    for validator in field.validators:
        if isinstance(validator, validate.OneOf):
            schema["enum"] = list(validator.choices)
        elif isinstance(validator, validate.Length):
            if validator.equal is not None:
                raise UnsupportedField(f"Length(equal=…) on {field!r}")
            if validator.min is not None:
                schema["minItems" if array else "minLength"] = validator.min
            if validator.max is not None:
                schema["maxItems" if array else "maxLength"] = validator.max
        elif isinstance(validator, validate.Range):
            if not (validator.min_inclusive and validator.max_inclusive):
                raise UnsupportedField(f"exclusive Range on {field!r}")
            if validator.min is not None:
                schema["minimum"] = validator.min
            if validator.max is not None:
                schema["maximum"] = validator.max
        elif isinstance(validator, validate.Regexp):
            schema["pattern"] = validator.regex.pattern
        elif isinstance(validator, validate.Email) and schema.get("format") == "email":
            continue  # the field's own check, already said by the format
        elif isinstance(validator, validate.Validator):
            raise UnsupportedField(f"{type(validator).__name__} on {field!r}")


def json_schema(field: fields.Field) -> dict[str, Any]:
    """The JSON Schema of one marshmallow field as published: a personal field is sealed."""
    schema = _plain_schema(field)
    if not field.metadata.get("personal"):
        return _nullable(field, schema)
    sealed = {
        "type": "object",
        "additionalProperties": False,
        "required": [SEALED],
        "properties": {
            SEALED: {
                "type": "string",
                "contentEncoding": "base64",
                "minLength": SEALED_MIN_LENGTH,
                "pattern": BASE64_PATTERN,
            }
        },
        "description": SEALED_DESCRIPTION,
        "x-personal": True,  # names or describes people: handle as personal data
        "x-opened": schema,
    }
    return _nullable(field, sealed)


def _nullable(field: fields.Field, schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]} if field.allow_none else schema


def _plain_schema(field: fields.Field) -> dict[str, Any]:
    """Type, format, enum, lengths, range, pattern: the field's value before any sealing."""
    if isinstance(field, fields.Nested):
        schema = object_schema(field.schema)
    else:
        is_string, string_format = _string_format(field)
        if isinstance(field, fields.List):
            schema = {"type": "array", "items": json_schema(field.inner)}
        elif isinstance(field, fields.Integer):
            schema = {"type": "integer"}
        elif isinstance(field, fields.Boolean):
            schema = {"type": "boolean"}
        elif is_string:
            schema = {"type": "string"}
            if string_format:
                schema["format"] = string_format
        else:
            raise UnsupportedField(f"no JSON Schema for {type(field).__name__}")
        _constraints(field, schema)
    return schema


def object_schema(schema: Schema) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": sorted(name for name, field in schema.fields.items() if field.required),
        "properties": {name: json_schema(field) for name, field in schema.fields.items()},
    }


def example_value(field: fields.Field, sealed: bool = False) -> Any:
    """A plausible value for a field: the first allowed code, a fixed id, a fixed date; with
    `sealed`, a personal field as published."""
    if sealed and field.metadata.get("personal"):
        return {SEALED: EXAMPLE_SEALED}
    if isinstance(field, fields.Nested):
        return _sample(field.schema, sealed)
    if isinstance(field, fields.List):
        return [example_value(field.inner, sealed)]
    for validator in field.validators:
        if isinstance(validator, validate.OneOf):
            return list(validator.choices)[0]
        if isinstance(validator, validate.Regexp):
            try:
                return PATTERN_EXAMPLES[validator.regex.pattern]
            except KeyError:
                raise UnsupportedField(f"no example for {validator.regex.pattern!r}") from None
    samples: tuple[tuple[type[fields.Field], Any], ...] = (
        (fields.UUID, EXAMPLE_UUID),
        (fields.Email, "agent@interieur.example"),
        (fields.AwareDateTime, "2026-11-27T09:30:00+01:00"),
        (fields.Date, "2026-11-27"),
        (fields.Boolean, True),
        (fields.Integer, 1),
        (fields.String, "texte"),
    )
    for kind, sample in samples:
        if isinstance(field, kind):
            return sample
    raise UnsupportedField(f"no example for {type(field).__name__}")


def _sample(schema: Schema, sealed: bool) -> dict[str, Any]:
    return {name: example_value(field, sealed) for name, field in schema.fields.items()}


def example(schema: Schema) -> dict[str, Any]:
    """A sample of the event's data before sealing, as JSON; raises if the schema refuses it."""
    sample = _sample(schema, sealed=False)
    schema.load(sample)
    return sample


def sealed_example(schema: Schema) -> dict[str, Any]:
    """`example` as the log stores it and subscribers receive it: personal fields sealed."""
    example(schema)  # the text it stands for is valid
    return _sample(schema, sealed=True)


def example_envelope(contract: EventContract) -> dict[str, Any]:
    """What a subscriber receives for this event: the first event of a log, with fixed ids."""
    stored = {
        "_id": EXAMPLE_EVENT_ID,
        "stream": f"{contract.stream_type}-{EXAMPLE_UUID}",
        "stream_type": contract.stream_type,
        "version": 1,
        "position": 1,
        "type": contract.type,
        "schema_version": contract.version,
        "data": sealed_example(contract.schema()),
        "meta": Metadata(
            actor_id="agent-1",
            actor_role="listener",
            platform="SG",
            service=contract.service,
            correlation_id=EXAMPLE_CORRELATION_ID,
        ).to_dict(),
        "recorded_at": EXAMPLE_RECORDED_AT,
        "prev_hash": GENESIS_HASH,
    }
    stored["hash"] = document_hash(stored, GENESIS_HASH)
    return envelope(event_from_document(stored))


def published(contract: EventContract) -> bool:
    return contract.service not in UNPUBLISHED_SERVICES


def envelope_schema(contract: EventContract) -> dict[str, Any]:
    text, uuid_text = {"type": "string"}, {"type": "string", "format": "uuid"}
    meta = {
        "actor_id": text,
        "actor_role": text,
        "platform": text,
        "service": text,
        "correlation_id": text,
        "causation_id": {"oneOf": [text, {"type": "null"}]},
    }
    properties = {
        "envelope_version": {"type": "integer", "enum": [ENVELOPE_VERSION]},
        "id": uuid_text,
        "type": {"type": "string", "enum": [contract.type]},
        "schema_version": {"type": "integer", "enum": [contract.version]},
        "stream": {"type": "string", "pattern": f"^{contract.stream_type}-"},
        "stream_type": {"type": "string", "enum": [contract.stream_type]},
        "version": {"type": "integer", "minimum": 1},
        "position": {"type": "integer", "minimum": 1},
        "recorded_at": {"type": "string", "format": "date-time"},
        "data": object_schema(contract.schema()),
        "meta": {"type": "object", "required": list(meta), "properties": meta},
        "prev_hash": {"type": "string", "pattern": SHA256_PATTERN},
        "hash": {"type": "string", "pattern": SHA256_PATTERN},
    }
    return {"type": "object", "required": list(properties), "properties": properties}


def _channel(contract: EventContract) -> dict[str, Any]:
    return {
        "description": f"Routing key `{contract.type}` on the exchange `{contract.exchange}`.",
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
            "bindings": {"amqp": {"deliveryMode": 2, "ack": True, "bindingVersion": "0.2.0"}},
            "message": {"$ref": f"#/components/messages/{contract.type}"},
        },
    }


def _message(contract: EventContract) -> dict[str, Any]:
    return {
        "name": contract.type,
        "summary": contract.description,
        "contentType": "application/json",
        "x-schema-version": contract.version,
        "payload": envelope_schema(contract),
        "examples": [
            {"name": f"{contract.type}-v{contract.version}", "payload": example_envelope(contract)}
        ],
    }


def document() -> dict[str, Any]:
    contracts = [contract for contract in CATALOGUE.contracts() if published(contract)]
    return {
        "asyncapi": "2.6.0",
        "info": {
            "title": "Allo Discri published events",
            "version": "1",
            "description": (
                "Events of the listening cells' case-management platform, published by each "
                "service on its topic exchange, routing key = event type. Delivery is "
                "at-least-once: de-duplicate by the envelope's id (also the AMQP message_id). "
                "Fields marked x-personal name or describe people: they are published sealed "
                "(AES-256-GCM, one key per case, opened only inside Allo Discri)."
            ),
        },
        "defaultContentType": "application/json",
        "channels": {f"{c.exchange}/{c.type}": _channel(c) for c in contracts},
        "components": {"messages": {c.type: _message(c) for c in contracts}},
    }


def render() -> str:
    return yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=100)


if __name__ == "__main__":
    print(render(), end="")
