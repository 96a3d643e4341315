"""The shape every workflow here shares: a table of transitions, and refusals that say why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class WorkflowRefusal(Exception):
    """A command the state or a rule forbids; names the state and the rule, in words."""

    def __init__(self, command: str, status: StrEnum, rule: str, subject: str = "case"):
        self.command = command
        self.status = status
        self.rule = rule
        super().__init__(f"{command} refused: the {subject} is {status.value}; {rule}")


@dataclass(frozen=True)
class Transition:
    """What a command records, where it is allowed, and the rule that refuses it elsewhere."""

    event: str
    allowed_in: frozenset
    rule: str
    to: StrEnum | None = None  # None: the status does not change...
    returns: str | None = None  # ...unless this says where it goes back to


def command_name(command_type: type) -> str:
    """snake_case of the command class, as the RPC entrypoints are named."""
    name = command_type.__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
