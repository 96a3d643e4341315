"""Need-to-know: every role × every entrypoint, platforms apart, identities, read traces."""

import inspect
import uuid

import pytest
from nameko.exceptions import RemoteError
from nameko.rpc import Rpc

from allodiscri.permissions import PERMISSIONS
from allodiscri.reference import ACTOR_ROLES
from tests.e2e.conftest import SERVICES
from tests.helpers import actor, eventually, report

ROLES = sorted(set(ACTOR_ROLES) - {"system"})


def rpc_entrypoints():
    for service in SERVICES:
        for name, method in inspect.getmembers(service, inspect.isfunction):
            if any(isinstance(e, Rpc) for e in getattr(method, "nameko_entrypoints", ())):
                yield service.name, name, method


def test_the_permission_table_names_exactly_the_rpc_entrypoints():
    assert {f"{service}.{name}" for service, name, _ in rpc_entrypoints()} == set(PERMISSIONS)


def call_as(cluster, service, name, method, role):
    """Call with placeholder arguments: the gate decides before anything is read."""
    arguments = {}
    for parameter in list(inspect.signature(method).parameters.values())[1:]:
        if parameter.name == "actor":
            arguments["actor"] = actor(role)
        elif parameter.kind is parameter.VAR_KEYWORD or parameter.default is not parameter.empty:
            continue
        elif parameter.name == "expected_version":
            arguments[parameter.name] = 1
        elif parameter.name.endswith("_id"):
            arguments[parameter.name] = str(uuid.uuid4())
        else:
            arguments[parameter.name] = "x"
    try:
        getattr(getattr(cluster, service), name)(**arguments)
    except RemoteError as error:
        return error.exc_type
    return None


def test_every_role_on_every_entrypoint(cluster, database):
    outcomes = {}
    for service, name, method in rpc_entrypoints():
        if "actor" not in inspect.signature(method).parameters:
            # Proven by a receipt code, not by an actor: the declarant's alone.
            assert PERMISSIONS[f"{service}.{name}"] == {"declarant"}, name
            continue
        for role in ROLES:
            outcomes[(f"{service}.{name}", role)] = call_as(cluster, service, name, method, role)
    for (action, role), outcome in outcomes.items():
        if role in PERMISSIONS[action]:
            assert outcome != "Forbidden", (action, role)
        else:
            assert outcome == "Forbidden", (action, role, outcome)
    stored = {event["type"] for event in database.events.find({}, {"type": 1})}
    assert stored <= {"ReportReceived", "AccessDenied"}  # refusals change nothing, but are traced
    forbidden = sum(outcome == "Forbidden" for outcome in outcomes.values())
    assert database.events.count_documents({"type": "AccessDenied"}) == forbidden


def forbidden_or_not_found(call) -> str:
    with pytest.raises(RemoteError) as refused:
        call()
    return refused.value.exc_type


def test_identity_is_for_the_assigned_listener_or_on_a_granted_request(cluster, database):
    case_id = cluster.intake.submit_report(report())["report_id"]
    eventually(lambda: database.cases_view.find_one({"_id": case_id}))
    manager = actor("cell-manager", actor_id="manager-1")
    assigned = actor("listener", actor_id="listener-1")
    colleague = actor("listener", actor_id="listener-2")
    auditor = actor("auditor", actor_id="auditor-1")
    cluster.cases.assign_listener(case_id, manager, 1, listener_id="listener-1")
    eventually(lambda: database.cases_view.find_one({"_id": case_id, "listener_id": "listener-1"}))

    assert cluster.cases.get_identity(case_id, assigned)["name"] == "Camille Martin"
    for someone in (colleague, auditor, manager):
        assert forbidden_or_not_found(lambda s=someone: cluster.cases.get_identity(case_id, s)) == (
            "Forbidden"
        )
    first = cluster.cases.request_identity_access(case_id, "vérification d'un doublon", colleague)
    second = cluster.cases.request_identity_access(case_id, "contrôle", auditor)
    assert forbidden_or_not_found(
        lambda: cluster.cases.grant_identity_access(case_id, first, colleague)
    ) == ("Forbidden")
    cluster.cases.grant_identity_access(case_id, first, manager)
    cluster.cases.refuse_identity_access(case_id, second, "pas nécessaire", manager)
    assert cluster.cases.get_identity(case_id, colleague)["email"] == "camille.martin@example.org"
    assert forbidden_or_not_found(lambda: cluster.cases.get_identity(case_id, auditor)) == (
        "Forbidden"
    )
    error = forbidden_or_not_found(
        lambda: cluster.cases.grant_identity_access(case_id, second, manager)
    )
    assert error == "Refused"

    access = [
        (e["type"], e["meta"]["actor_id"], e["data"].get("what"))
        for e in database.events.find({"stream": f"access-{case_id}"}).sort("version")
    ]
    assert access == [
        ("CaseContentRead", "listener-1", "identity"),
        ("IdentityAccessRequested", "listener-2", None),
        ("IdentityAccessRequested", "auditor-1", None),
        ("IdentityAccessGranted", "manager-1", None),
        ("IdentityAccessRefused", "manager-1", None),
        ("CaseContentRead", "listener-2", "identity"),
    ]


def test_every_read_of_content_leaves_a_trace(cluster, database):
    case_id = cluster.intake.submit_report(report())["report_id"]
    eventually(lambda: database.cases_view.find_one({"_id": case_id}))
    reader = actor("auditor", actor_id="auditor-7")
    cluster.cases.get_case(case_id, reader)
    cluster.cases.get_timeline(case_id, reader)
    traces = list(database.events.find({"stream": f"access-{case_id}"}).sort("version"))
    assert [
        (t["data"]["what"], t["meta"]["actor_id"], t["meta"]["actor_role"]) for t in traces
    ] == [
        ("case", "auditor-7", "auditor"),
        ("timeline", "auditor-7", "auditor"),
    ]
    assert all(t["recorded_at"] and t["meta"]["platform"] == "SG" for t in traces)


def test_another_platforms_actor_neither_sees_nor_changes_a_case(cluster, database):
    case_id = cluster.intake.submit_report(report())["report_id"]
    eventually(lambda: database.cases_view.find_one({"_id": case_id}))
    gendarme = actor("cell-manager", platform="GN", actor_id="gn-manager")
    stored = database.events.count_documents({})
    calls = [
        lambda: cluster.cases.get_case(case_id, gendarme),
        lambda: cluster.cases.get_timeline(case_id, gendarme),
        lambda: cluster.cases.get_identity(case_id, gendarme),
        lambda: cluster.cases.acknowledge_receipt(case_id, gendarme, 1),
        lambda: cluster.cases.request_identity_access(case_id, "curiosité", gendarme),
        lambda: cluster.referrals.request_referral(case_id, "hr-office", "support", gendarme),
    ]
    for call in calls:
        assert forbidden_or_not_found(call) == "NotFound"
    denied = database.events.count_documents({"type": "AccessDenied"})
    assert denied >= 5  # every attempt on the case itself is traced
    assert cluster.referrals.list_referrals(case_id, gendarme) == []
    statistics = cluster.reporting.get_statistics(gendarme)
    assert statistics["reports"] == {} and statistics["platform"] == "GN"
    assert database.events.count_documents({}) == stored + denied
    analyst_view = cluster.reporting.get_statistics(actor("analyst"))
    assert analyst_view["reports"]["total"] == "< 5"  # one report: a small cell
