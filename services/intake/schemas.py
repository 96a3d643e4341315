"""What a caller may send to intake, refused field by field when it is wrong."""

from __future__ import annotations

import base64
import binascii

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from allodiscri.kernel.catalogue import DeclarantSchema, FactsSchema
from allodiscri.kernel.reference import CHANNELS, PLATFORMS
from services.intake.attachments import (
    DEFAULT_ALLOWED_TYPES,
    MAX_FILENAME_LENGTH,
    AttachmentRefused,
    media_type,
    safe_filename,
)

MAX_ATTACHMENTS = 10


class Base64(fields.Field):
    """File content carried in JSON."""

    def _deserialize(self, value, attr, data, **kwargs) -> bytes:
        if not isinstance(value, str):
            raise ValidationError("Not a valid base64 string.")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("Not a valid base64 string.") from None


def _usable_name(filename: str) -> None:
    """The store's own rule on names, checked here so that a refusal names the field."""
    if len(filename) > MAX_FILENAME_LENGTH:
        return  # the length check says so
    try:
        safe_filename(filename)
    except AttachmentRefused as refused:
        raise ValidationError(refused.reason) from None


def _kept_type(content_type: str) -> None:
    """The store's types, checked here too, for the same reason."""
    if media_type(content_type) not in DEFAULT_ALLOWED_TYPES:
        allowed = ", ".join(sorted(DEFAULT_ALLOWED_TYPES))
        raise ValidationError(f"Not a type we keep; allowed: {allowed}.")


class FileSchema(Schema):
    filename = fields.String(
        required=True, validate=[validate.Length(min=1, max=MAX_FILENAME_LENGTH), _usable_name]
    )
    content_type = fields.String(
        required=True, validate=[validate.Length(min=1, max=100), _kept_type]
    )
    content_base64 = Base64(required=True)


class ReportSubmissionSchema(Schema):
    submission_id = fields.UUID(
        load_default=None,
        metadata={"description": "Chosen by the caller; a retry with the same id is a no-op."},
    )
    platform = fields.String(required=True, validate=validate.OneOf(sorted(PLATFORMS)))
    channel = fields.String(required=True, validate=validate.OneOf(sorted(CHANNELS)))
    received_at = fields.AwareDateTime(load_default=None, allow_none=True)
    declarant = fields.Nested(DeclarantSchema, required=True)
    facts = fields.Nested(FactsSchema, required=True)
    attachments = fields.List(
        fields.Nested(FileSchema), load_default=list, validate=validate.Length(max=MAX_ATTACHMENTS)
    )

    @validates_schema
    def people_say_who_they_are_and_what_happened(self, data, **kwargs):
        """Reports made by a person (form, phone, letter) say who and what; an e-mail is
        qualified by the listener later."""
        if data.get("channel") == "email":
            return
        errors = {}
        declarant = data.get("declarant", {})
        for field in ("role", "perimeter"):
            if declarant.get(field) is None:
                errors.setdefault("declarant", {})[field] = ["Missing data for required field."]
        if not data.get("facts", {}).get("kinds"):
            errors["facts"] = {"kinds": ["At least one kind of facts."]}
        if errors:
            raise ValidationError(errors)


class MinutesSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=20_000))


class FollowUpSchema(Schema):
    report_id = fields.UUID(required=True)
    receipt_code = fields.String(
        required=True,
        validate=[
            validate.Length(min=16, max=40),
            # Digits, and the spaces and dashes people type: anything else is no code.
            validate.Regexp(r"[0-9\s-]+\Z", error="Not a receipt code: digits only."),
        ],
    )


class AddedInformationSchema(FollowUpSchema):
    message = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    attachments = fields.List(
        fields.Nested(FileSchema), load_default=list, validate=validate.Length(max=MAX_ATTACHMENTS)
    )


class RectificationSchema(FollowUpSchema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=20_000))


class ReportCommandSchema(Schema):
    report_id = fields.UUID(required=True)
    expected_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
