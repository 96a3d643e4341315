"""Bad input on every entrypoint: a clear error naming the field, and nothing stored."""

import inspect
import json

from nameko.exceptions import RemoteError

from allodiscri.permissions import PERMISSIONS
from tests.e2e.test_permissions import rpc_entrypoints
from tests.helpers import actor

HOSTILE = {"$gt": ""}


def permitted_actor(action: str) -> dict:
    role = sorted(PERMISSIONS[action] - {"declarant"} or PERMISSIONS[action])[0]
    return actor(role)


def test_every_entrypoint_refuses_operators_and_wrong_types_by_field(cluster, database):
    stored = database.events.count_documents({})
    for service, name, method in rpc_entrypoints():
        action = f"{service}.{name}"
        arguments = {}
        for parameter in list(inspect.signature(method).parameters.values())[1:]:
            if parameter.kind is parameter.VAR_KEYWORD:
                continue
            if parameter.name == "actor":
                arguments["actor"] = permitted_actor(action)
            elif parameter.name == "expected_version":
                arguments[parameter.name] = "one"
            else:
                arguments[parameter.name] = HOSTILE
        if set(arguments) == {"actor"}:
            continue  # nothing but the actor to get wrong: see the next test
        try:
            getattr(getattr(cluster, service), name)(**arguments)
        except RemoteError as error:
            assert error.exc_type == "InvalidInput", (action, error.exc_type, error.value)
            errors = json.loads(error.value)["errors"]
            assert errors, action
            assert all(isinstance(field, str) for field in errors), action
        else:
            raise AssertionError(f"{action} accepted hostile input")
    assert database.events.count_documents({}) == stored


def test_a_hostile_actor_is_refused_by_field(cluster, database):
    for bad_actor in (
        {"id": HOSTILE, "role": "listener", "platform": "SG"},
        {"id": "x", "role": {"$ne": None}, "platform": "SG"},
        {"id": "x", "role": "listener", "platform": "SG", "$where": "1"},
        "listener",
    ):
        try:
            cluster.cases.get_case("6f1c5a2e-1111-4222-8333-444455556666", bad_actor)
        except RemoteError as error:
            assert error.exc_type == "InvalidInput"
            assert json.loads(error.value)["invalid"] == "actor"
        else:
            raise AssertionError(f"accepted {bad_actor!r}")
    assert database.events.count_documents({}) == 0
