"""Need-to-know: one table says which roles may call which RPC entrypoint of the services.

The platform's `Access` provider enforces it; `docs/permissions.md` is generated from it. An
entrypoint missing from the table is refused to everyone, so nothing is reachable by default.
"""

from __future__ import annotations

from allodiscri.kernel.actors import (
    ADMINISTRATOR,
    ANALYST,
    AUDITOR,
    CELL,
    DECLARANT,
    INTERLOCUTOR,
    MANAGER,
)
from services.cases.schemas import COMMAND_SCHEMAS as CASE_COMMANDS

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
    # cases: the cell's daily work, every command of the workflow unless said otherwise below
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


def permitted(role: str, action: str) -> bool:
    return role in PERMISSIONS.get(action, frozenset())
