"""Need-to-know: one table says which roles may call which entrypoint, read in one place.

Every RPC entrypoint starts with `self.access.actor(actor)`: the `Access` provider validates the
actor, checks this table for the entrypoint being run, and refuses with `Forbidden` otherwise.
Scope rules that depend on the data (own platform, assigned listener, granted identity access)
are checked by the services with the helpers below. A test fails when an RPC entrypoint is
missing from the table, so nothing is reachable by default.
"""

from __future__ import annotations

import json

from nameko.extensions import DependencyProvider

from allodiscri.actors import Actor, ActorSchema
from allodiscri.boundary import load

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
    """What an entrypoint asks: who is calling, and may they call me?"""

    def __init__(self, action: str):
        self.action = action

    def actor(self, payload) -> Actor:
        actor = load(ActorSchema(), payload, "actor")
        if not permitted(actor.role, self.action):
            raise Forbidden(actor.id, actor.role, self.action)
        return actor

    def require(self, role: str) -> None:
        """For callers proven by other means than an actor (a declarant's receipt code)."""
        if not permitted(role, self.action):
            raise Forbidden("anonymous", role, self.action)


class Access(DependencyProvider):
    """Resolves the calling actor for the running entrypoint, the one place to do it."""

    def get_dependency(self, worker_ctx) -> Gate:
        return Gate(f"{self.container.service_name}.{worker_ctx.entrypoint.method_name}")
