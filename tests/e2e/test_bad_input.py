"""Bad input on every entrypoint: a clear error naming the field, and nothing stored."""

import inspect
import json

from nameko.exceptions import RemoteError

from tests.e2e.test_permissions import may_call, rpc_entrypoints
from tests.helpers import TEST_ACTOR_KEY, actor, eventually, report

HOSTILE = {"$gt": ""}


def permitted_actor(action: str) -> dict:
    """A role the hand-written table (not the code's) lets past the gate."""
    role = sorted(may_call(action) - {"declarant"} or may_call(action))[0]
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


def test_anything_but_a_valid_token_is_refused_and_traced(cluster, database):
    """Missing, malformed, forged, expired, other-platform: refused, each leaving a trace."""
    from allodiscri.kernel import tokens
    from allodiscri.kernel.actors import Actor

    case_id = cluster.intake.submit_report(report())["report_id"]
    eventually(lambda: database.cases_view.find_one({"_id": case_id}))
    listener = Actor("listener-1", "listener", "SG")
    forged = tokens.issue(listener, b"an-attacker-key-of-at-least-32-bytes!!")
    expired = tokens.issue(listener, TEST_ACTOR_KEY.encode(), ttl_seconds=1, now=1_000_000)
    refused = {
        "missing": None,
        "not a token": {"id": "listener-1", "role": "listener", "platform": "SG"},
        "operator": HOSTILE,
        "malformed": "not.a.jwt",
        "forged": forged,
        "expired": expired,
    }
    for label, token in refused.items():
        try:
            cluster.cases.get_case(case_id, token)
        except RemoteError as error:
            assert error.exc_type == "Forbidden", label
        else:
            raise AssertionError(f"{label} token accepted")
    gendarme = actor("listener", platform="GN", actor_id="gn-1")
    try:
        cluster.cases.get_case(case_id, gendarme)
    except RemoteError as error:
        assert error.exc_type == "NotFound"
    denials = list(database.events.find({"type": "AccessDenied"}).sort("position"))
    reasons = [denial["data"]["reason"] for denial in denials]
    assert len(denials) == len(refused) + 1
    assert reasons[0] == "no actor token"
    assert "signature is not valid" in reasons[4] and reasons[5] == "the actor token has expired"
    assert denials[4]["data"]["claimed_actor_id"] == "listener-1"  # claimed, not trusted
    assert denials[6]["meta"]["actor_id"] == "gn-1" and "another platform" in reasons[6]
    assert all(d["data"]["action"] == "cases.get_case" for d in denials)
    assert database.events.count_documents({"type": "CaseContentRead"}) == 0
