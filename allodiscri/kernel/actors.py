"""Who acts: every command and query names an actor (id, role, platform)."""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema, fields, post_load, validate

from allodiscri.kernel.reference import ACTOR_ROLES, PLATFORMS

LISTENER = "listener"
MANAGER = "cell-manager"
INTERLOCUTOR = "referral-interlocutor"
ANALYST = "analyst"
AUDITOR = "auditor"
DECLARANT = "declarant"
ADMINISTRATOR = "administrator"

CELL = frozenset({LISTENER, MANAGER})


@dataclass(frozen=True)
class Actor:
    id: str
    role: str
    platform: str


class ActorSchema(Schema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.OneOf(sorted(ACTOR_ROLES)))
    platform = fields.String(required=True, validate=validate.OneOf(sorted(PLATFORMS)))

    @post_load
    def make_actor(self, data, **kwargs) -> Actor:
        return Actor(**data)
