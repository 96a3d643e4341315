"""The permission table against the hand-written one (tests/e2e/test_permissions.MAY_CALL),
fast and without a broker: a role too many or too few in PERMISSIONS fails here."""

import json

import pytest

from allodiscri.kernel.reference import ACTOR_ROLES
from allodiscri.platform.access import Forbidden
from services.permissions import PERMISSIONS, permitted
from tests.e2e.test_permissions import MAY_CALL, rpc_entrypoints

ENTRYPOINTS = {f"{service}.{name}" for service, name, _ in rpc_entrypoints()}


@pytest.mark.parametrize("role", sorted(MAY_CALL))
def test_permitted_answers_the_hand_table_for_every_action(role):
    """Every (role, action) pair, one role per test so that a failure names the role."""
    actions = ENTRYPOINTS | set(PERMISSIONS) | MAY_CALL[role]
    allowed = {action for action in actions if permitted(role, action)}
    assert sorted(allowed - MAY_CALL[role]) == [], "allowed, not in the hand table"
    assert sorted(MAY_CALL[role] - allowed) == [], "in the hand table, refused"


def test_an_action_nobody_listed_is_refused_to_every_role():
    """Nothing is reachable by default, whatever the role."""
    assert [role for role in MAY_CALL if permitted(role, "cases.drop_database")] == []
    assert not permitted("boss", "cases.get_case")


def test_the_hand_table_names_exactly_the_rpc_entrypoints():
    """A new entrypoint must be written into the hand table, with the roles that may call it."""
    assert set().union(*MAY_CALL.values()) == ENTRYPOINTS


def test_the_hand_table_names_every_role():
    """A new role must be written into the hand table, even if it may call nothing."""
    assert set(MAY_CALL) == set(ACTOR_ROLES)


def test_a_refusal_names_the_role_unless_a_reason_is_given():
    """What the caller reads in the RemoteError: the action, the role, and why."""
    refused = Forbidden("l-1", "listener", "cases.erase_case")
    assert (refused.actor_id, refused.role, refused.action) == (
        "l-1",
        "listener",
        "cases.erase_case",
    )
    assert json.loads(str(refused)) == {
        "forbidden": "cases.erase_case",
        "role": "listener",
        "reason": "role listener may not call cases.erase_case",
    }
    given = Forbidden("l-1", "listener", "cases.get_identity", "not the assigned listener")
    assert json.loads(str(given))["reason"] == "not the assigned listener"
