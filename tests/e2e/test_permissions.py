"""Need-to-know: every role × every entrypoint, platforms apart, identities, read traces."""

import inspect
import uuid

import pytest
from nameko.exceptions import RemoteError
from nameko.rpc import Rpc

from services.permissions import PERMISSIONS
from tests.e2e.conftest import SERVICES
from tests.helpers import actor, eventually, report

# Who may call what, written by hand, role by role, from docs/permissions.md, docs/security.md
# and the need-to-know rule of the law, and never derived from allodiscri.platform.access: a wrong
# entry in PERMISSIONS (one role too many or too few) must fail the tests that read this.
# A new role or a new RPC entrypoint must be added here too (tests/unit/test_permission_table.py).
MAY_CALL: dict[str, frozenset[str]] = {
    # The cell's daily work: the channels, the four phases, referrals, reading cases. The
    # identity only when assigned or on a granted request (checked past the gate). Not the
    # statistics: the listener does not need them for the work.
    "listener": frozenset(
        {
            "intake.submit_report",
            "intake.record_phone_report",
            "intake.transcribe_letter",
            "intake.show_minutes",
            "cases.acknowledge_receipt",
            # Disputed, see the report: docs/security.md gives assigning to the cell manager,
            # and a listener who assigns a case to themselves can then read the identity.
            "cases.assign_listener",
            "cases.schedule_interview",
            "cases.hold_interview",
            "cases.miss_interview",
            "cases.record_unreachable",
            "cases.begin_treatment",
            "cases.qualify_facts",
            "cases.request_meeting",
            "cases.record_measure",
            "cases.inform_declarant",
            "cases.open_inquiry",
            "cases.close_case",
            "cases.reopen_case",
            "cases.transfer_case",
            "cases.list_cases",
            "cases.get_case",
            "cases.get_timeline",
            "cases.get_identity",
            "cases.request_identity_access",
            "referrals.request_referral",
            "referrals.send_referral",
            "referrals.acknowledge_referral",
            "referrals.answer_referral",
            "referrals.close_referral",
            "referrals.get_referral",
            "referrals.list_referrals",
        }
    ),
    # The listener's work, plus what the manager alone decides (erasing, identity requests)
    # and the cell's statistics.
    "cell-manager": frozenset(
        {
            "intake.submit_report",
            "intake.record_phone_report",
            "intake.transcribe_letter",
            "intake.show_minutes",
            "cases.acknowledge_receipt",
            "cases.assign_listener",
            "cases.schedule_interview",
            "cases.hold_interview",
            "cases.miss_interview",
            "cases.record_unreachable",
            "cases.begin_treatment",
            "cases.qualify_facts",
            "cases.request_meeting",
            "cases.record_measure",
            "cases.inform_declarant",
            "cases.open_inquiry",
            "cases.close_case",
            "cases.reopen_case",
            "cases.transfer_case",
            "cases.erase_case",
            "cases.list_cases",
            "cases.get_case",
            "cases.get_timeline",
            "cases.get_identity",
            "cases.request_identity_access",
            "cases.grant_identity_access",
            "cases.refuse_identity_access",
            "referrals.request_referral",
            "referrals.send_referral",
            "referrals.acknowledge_referral",
            "referrals.answer_referral",
            "referrals.close_referral",
            "referrals.get_referral",
            "referrals.list_referrals",
            "reporting.get_statistics",
            "reporting.get_detailed_statistics",
            "reporting.export_statistics",
        }
    ),
    # Acts on the referral addressed to them only: never a case, nor a case's referral list.
    "referral-interlocutor": frozenset(
        {
            "referrals.get_referral",
            "referrals.acknowledge_referral",
            "referrals.answer_referral",
        }
    ),
    # Statistics only (small cells hidden): never a case, an id or an identity.
    "analyst": frozenset(
        {
            "reporting.get_statistics",
            "reporting.get_detailed_statistics",
            "reporting.export_statistics",
        }
    ),
    # Reads and replays everything, changes nothing. Asking for the identity leaves a request
    # on the access stream, not on the case; reading it needs the manager's grant.
    "auditor": frozenset(
        {
            "cases.list_cases",
            "cases.get_case",
            "cases.get_timeline",
            "cases.get_identity",
            "cases.request_identity_access",
            "referrals.get_referral",
            "referrals.list_referrals",
            "reporting.get_statistics",
            "reporting.get_detailed_statistics",
            "reporting.export_statistics",
        }
    ),
    # Their own report: the web form, then everything else with the receipt code.
    "declarant": frozenset(
        {
            "intake.submit_report",
            "intake.follow_report",
            "intake.add_information",
            "intake.rectify_minutes",
            "intake.confirm_minutes",
            "intake.sign_minutes",
        }
    ),
    # Rebuilds the statistics projection; reads no case and no figure.
    "administrator": frozenset({"reporting.rebuild_statistics"}),
    # The services' own role, should a token ever claim it: no RPC at all.
    "system": frozenset(),
}


def may_call(action: str) -> frozenset[str]:
    """The roles the hand-written table lets call `action`."""
    return frozenset(role for role, actions in MAY_CALL.items() if action in actions)


def rpc_entrypoints():
    for service in SERVICES:
        for name, method in inspect.getmembers(service, inspect.isfunction):
            if any(isinstance(e, Rpc) for e in getattr(method, "nameko_entrypoints", ())):
                yield service.name, name, method


def test_the_permission_table_names_exactly_the_rpc_entrypoints():
    """Nothing is reachable by default: every entrypoint has its row in PERMISSIONS."""
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
    """Each role calls each entrypoint over the platform, and what the gate lets through is
    exactly the hand-written table; every refusal changes nothing and leaves one trace."""
    answered = {role: set() for role in MAY_CALL}
    forbidden = 0
    for service, name, method in rpc_entrypoints():
        action = f"{service}.{name}"
        if "actor" in inspect.signature(method).parameters:
            callers = list(MAY_CALL)  # each role with a signed token
        else:
            callers = ["declarant"]  # proven by the receipt code: no token to carry a role
        for role in callers:
            if call_as(cluster, service, name, method, role) == "Forbidden":
                forbidden += 1
            else:
                answered[role].add(action)
    wrong = {
        role: {
            "allowed, not in the table": sorted(answered[role] - MAY_CALL[role]),
            "in the table, refused": sorted(MAY_CALL[role] - answered[role]),
        }
        for role in MAY_CALL
        if answered[role] != MAY_CALL[role]
    }
    assert wrong == {}
    stored = {event["type"] for event in database.events.find({}, {"type": 1})}
    assert stored <= {"ReportReceived", "AccessDenied"}  # refusals change nothing, but are traced
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
