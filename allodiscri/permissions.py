"""Need-to-know: one table says which roles may call which entrypoint, read in one place.

Every RPC entrypoint starts with `self.access.actor(token)`: the `Access` provider verifies the
signed actor token, checks this table for the entrypoint being run, and refuses with
`Forbidden` otherwise, leaving an `AccessDenied` trace.
Scope rules that depend on the data (own platform, assigned listener, granted identity access)
are checked by the services with the helpers below. A test fails when an RPC entrypoint is
missing from the table, so nothing is reachable by default.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from nameko.extensions import DependencyProvider

from allodiscri import tokens
from allodiscri.actors import Actor
from allodiscri.catalogue import CATALOGUE
from allodiscri.dependencies import MongoConnection
from allodiscri.events import ANY, Metadata, stream_name

LISTENER = "listener"
MANAGER = "cell-manager"
INTERLOCUTOR = "referral-interlocutor"
ANALYST = "analyst"
AUDITOR = "auditor"
DECLARANT = "declarant"
ADMINISTRATOR = "administrator"

CELL = frozenset({LISTENER, MANAGER})

CASE_COMMANDS = (
    "acknowledge_receipt",
    "assign_listener",
    "schedule_interview",
    "hold_interview",
    "miss_interview",
    "record_unreachable",
    "begin_treatment",
    "qualify_facts",
    "request_meeting",
    "record_measure",
    "inform_declarant",
    "open_inquiry",
    "close_case",
    "reopen_case",
    "transfer_case",
)

PERMISSIONS: dict[str, frozenset[str]] = {
    # intake: the channels, then the declarant's follow-up (the receipt code is the credential)
    "intake.submit_report": CELL | {DECLARANT},
    "intake.record_phone_report": CELL,
    "intake.transcribe_letter": CELL,
    "intake.show_minutes": CELL,
    **{
        f"intake.{name}": frozenset({DECLARANT})
        for name in (
            "follow_report",
            "add_information",
            "rectify_minutes",
            "confirm_minutes",
            "sign_minutes",
        )
    },
    # cases: the cell's daily work
    **{f"cases.{command}": CELL for command in CASE_COMMANDS},
    # Destroys the case's personal data for good: the cell manager's decision alone.
    "cases.erase_case": frozenset({MANAGER}),
    "cases.list_cases": CELL | {AUDITOR},
    "cases.get_case": CELL | {AUDITOR},
    "cases.get_timeline": CELL | {AUDITOR},
    "cases.request_identity_access": CELL | {AUDITOR},
    "cases.grant_identity_access": frozenset({MANAGER}),
    "cases.refuse_identity_access": frozenset({MANAGER}),
    "cases.get_identity": CELL | {AUDITOR},
    # referrals
    "referrals.request_referral": CELL,
    "referrals.send_referral": CELL,
    "referrals.acknowledge_referral": CELL | {INTERLOCUTOR},
    "referrals.answer_referral": CELL | {INTERLOCUTOR},
    "referrals.close_referral": CELL,
    "referrals.get_referral": CELL | {INTERLOCUTOR, AUDITOR},
    "referrals.list_referrals": CELL | {AUDITOR},
    # reporting
    "reporting.get_statistics": frozenset({MANAGER, ANALYST, AUDITOR}),
    "reporting.get_detailed_statistics": frozenset({MANAGER, ANALYST, AUDITOR}),
    "reporting.export_statistics": frozenset({MANAGER, ANALYST, AUDITOR}),
    "reporting.rebuild_statistics": frozenset({ADMINISTRATOR}),
}


class Forbidden(Exception):
    """The actor may not do this; nothing was done."""

    def __init__(self, actor_id: str, role: str, action: str, reason: str | None = None):
        self.actor_id = actor_id
        self.role = role
        self.action = action
        because = reason or f"role {role} may not call {action}"
        super().__init__(json.dumps({"forbidden": action, "role": role, "reason": because}))


def permitted(role: str, action: str) -> bool:
    return role in PERMISSIONS.get(action, frozenset())


class Gate:
    """What an entrypoint asks: who is calling, and may they call me? Refusals are traced."""

    def __init__(self, action: str, key: bytes, trace: Callable[..., None]):
        self.action = action
        self._key = key
        self._trace = trace

    def actor(self, token) -> Actor:
        """The caller named by a signed token (allodiscri.tokens), if allowed here."""
        try:
            actor = tokens.verify(token, self._key)
        except tokens.TokenRefused as refused:
            claims = refused.claims
            self.deny(
                Actor(
                    str(claims.get("sub") or "unknown"),
                    str(claims.get("role") or "unknown"),
                    str(claims.get("platform") or "unknown"),
                ),
                refused.reason,
            )
            raise Forbidden("unknown", "unknown", self.action, refused.reason) from None
        if not permitted(actor.role, self.action):
            reason = f"role {actor.role} may not call {self.action}"
            self.deny(actor, reason)
            raise Forbidden(actor.id, actor.role, self.action, reason)
        return actor

    def require(self, role: str) -> None:
        """For callers proven by other means than a token (a declarant's receipt code)."""
        if not permitted(role, self.action):
            reason = f"role {role} may not call {self.action}"
            self.deny(Actor("anonymous", role, "unknown"), reason)
            raise Forbidden("anonymous", role, self.action, reason)

    def deny(self, actor: Actor, reason: str) -> None:
        """Leave the access-denied trace (also for data of another platform)."""
        self._trace(self.action, actor, reason)


class Access(DependencyProvider):
    """Resolves the calling actor for the running entrypoint, the one place to do it."""

    mongo = MongoConnection()

    def setup(self):
        key = self.container.config.get("ACTOR_TOKEN_KEY")
        if not key:
            raise RuntimeError("ACTOR_TOKEN_KEY is not set: actors cannot be verified")
        self.key = str(key).encode("utf-8")

    def get_dependency(self, worker_ctx) -> Gate:
        service = self.container.service_name
        action = f"{service}.{worker_ctx.entrypoint.method_name}"
        correlation_id = worker_ctx.context_data.get("correlation_id") or worker_ctx.call_id

        def trace(action: str, actor: Actor, reason: str) -> None:
            record_denial(self.mongo.store, service, correlation_id, action, actor, reason)

        return Gate(action, self.key, trace)


def record_denial(store, service: str, correlation_id: str, action: str, actor: Actor, reason: str):
    """An AccessDenied event on the day's `denied-` stream: who tried what, and why not."""
    meta = Metadata(
        actor_id=actor.id[:100],
        actor_role=actor.role[:50],
        platform=actor.platform[:20],
        service=service,
        correlation_id=correlation_id,
    )
    data = {
        "action": action,
        "reason": reason[:500],
        "claimed_actor_id": actor.id[:100],
        "claimed_role": actor.role[:50],
        "claimed_platform": actor.platform[:20],
    }
    event = CATALOGUE.new_event("AccessDenied", data, meta)
    day = datetime.now(UTC).date().isoformat()
    store.append(stream_name("denied", day), event, ANY)
