"""Crypto-shredding, end to end: the cell manager erases a closed case.

The case is lived through the RPCs with every kind of personal field filled with text found
nowhere else. After its erasure, every reader (the cell, the declarant, the interlocutor, an
auditor's replay, an export of the log opened with the master key) sees the placeholder; the
hash chain still verifies; the statistics are the same, live, rebuilt and replayed; and no
document of any collection, events or keys, holds one of those texts.
"""

import base64
import json
from datetime import UTC, datetime

from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.platform.crypto import keys_database_name
from allodiscri.platform.integrity import verify_log
from allodiscri.platform.store import EventStore
from services.cases.replay import replay_case
from tests.examples import values_at
from tests.helpers import (
    CaseDriver,
    actor,
    answered_referral,
    cipher_for,
    eventually,
    opened,
    report,
    report_naming,
    rpc_refusal,
)

ERASED = "[effacé]"  # what an erased field reads (README), stated here, not imported
LISTENER = actor("listener", actor_id="listener-1")
MANAGER = actor("cell-manager", actor_id="manager-1")
INTERLOCUTOR = actor("referral-interlocutor", actor_id="rh-1")
ADMINISTRATOR = actor("administrator", actor_id="admin-1")

# Each text appears in one field only; accents make their JSON escaping differ from UTF-8.
SECRET = {
    "name": "Eulalie Grandserre-Pommerat",
    "email": "eulalie.grandserre@effacement.example",
    "phone": "+33 6 58 20 47 13",
    "assignment": "Direction départementale de Guéret, pôle titres",
    "corps": "adjoint administratif principal",
    "grade": "deuxième classe échelon neuf",
    "period": "de la Toussaint à l'Épiphanie 2026",
    "place": "bureau 214, aile Montgolfier",
    "relation": "chef de pôle Aristide",
    "narrative": "Aristide Vautrin-Lebœuf humilie Eulalie chaque lundi en réunion.",
    "added": "Ma collègue Philomène Rigaudeau a tout entendu le 12 janvier.",
    "notes": "Entretien : Eulalie décrit des insultes d'Aristide, suivi médical en cours.",
    "informed": "Madame Grandserre-Pommerat, Aristide a été reçu par la DRH.",
    "referral_note": "Confié à M. Barnabé Cornemuse, DRH adjoint, en main propre.",
    "answer": "Aristide Vautrin-Lebœuf reçoit un avertissement écrit.",
    "measure": "Avertissement écrit pour Aristide Vautrin-Lebœuf",
    "referral_closed": "Réponse de M. Cornemuse jugée suffisante.",
    "recorded_measure": "Télétravail deux jours par semaine pour Eulalie",
    "closing": "Clôture : Aristide averti, Eulalie soutenue.",
}


def opened_case(cluster, database, filed: dict) -> CaseDriver:
    case_id = filed["report_id"]
    eventually(lambda: database.cases_view.find_one({"_id": case_id}))
    return CaseDriver(cluster, case_id, LISTENER)


def live_and_close(cluster, database) -> tuple[CaseDriver, str, str]:
    """A case with every kind of personal field, closed; returns it, its receipt code and
    its referral."""
    filed = cluster.intake.submit_report(report_naming(SECRET))
    cluster.intake.add_information(filed["report_id"], filed["receipt_code"], SECRET["added"])
    case = opened_case(cluster, database, filed)
    case.do("acknowledge_receipt")
    case.do("assign_listener", MANAGER, listener_id="listener-1")
    case.do("schedule_interview", scheduled_for="2026-12-02T10:00:00+01:00", mode="phone")
    case.do("hold_interview", notes=SECRET["notes"])
    case.do("inform_declarant", message=SECRET["informed"])
    referral_id = answered_referral(cluster, case.case_id, LISTENER, INTERLOCUTOR, SECRET)
    case.do("record_measure", measure=SECRET["recorded_measure"], taken_by="bureau RH")
    case.do("close_case", outcome="facts-confirmed", reason=SECRET["closing"])
    return case, filed["receipt_code"], referral_id


def statistics(cluster) -> dict:
    """Every figure the cell sees: the first statistics, the detailed ones, and as of now."""
    return {
        "summary": cluster.reporting.get_statistics(MANAGER),
        "detailed": cluster.reporting.get_detailed_statistics(MANAGER),
        "as_of_now": {
            **cluster.reporting.get_detailed_statistics(MANAGER, datetime.now(UTC).isoformat()),
            "as_of": None,
        },
    }


def raw_documents(database) -> dict[str, str]:
    """Every document of every collection of the events and the keys databases, as text: what
    a backup of them holds."""
    keys = database.client.get_database(keys_database_name(database.name))
    dumped = {}
    for db in (database, keys):
        for name in db.list_collection_names():
            for document in db[name].find():
                dumped[f"{db.name}.{name}.{document['_id']}"] = json.dumps(
                    document, default=str, ensure_ascii=False
                )
    return dumped


def forms(text: str) -> list[str]:
    """How `text` can look in a dumped document: as is, or with non-ASCII escaped."""
    return [text, json.dumps(text)[1:-1]]


def personal_values(database, case_id: str) -> list:
    """Every personal field of the events about the case, opened with the master key."""
    events = database.events.find({"$or": [{"data.case_id": case_id}, {"data.report_id": case_id}]})
    values = []
    for event in events:
        data = opened(database, event["data"])
        for path in CATALOGUE.personal_paths(event["type"]):
            values += [value for value in values_at(data, path) if value is not None]
    return values


def test_an_erased_case_reads_as_erased_everywhere_and_changes_nothing_else(cluster, database):
    case, receipt_code, referral_id = live_and_close(cluster, database)
    case_id = case.case_id
    # The scenario did record every text: the master key opens each from the log.
    assert sorted(personal_values(database, case_id)) == sorted(SECRET.values())
    assert cluster.cases.get_identity(case_id, LISTENER)["name"] == SECRET["name"]
    before = eventually(
        lambda: (s := statistics(cluster))["detailed"]["tables"]["case_status"]["cells"]
        == {"closed": 1}
        and s
    )

    erased = case.do("erase_case", MANAGER)
    assert erased["event"] == "CaseErased"

    stored = database.events.find_one({"_id": erased["event_id"]})
    assert stored["data"] == {"case_id": case_id, "basis": "request", "erased_subjects": [case_id]}
    assert (stored["meta"]["actor_id"], stored["meta"]["actor_role"]) == (
        "manager-1",
        "cell-manager",
    )
    keys = database.client.get_database(keys_database_name(database.name)).keys
    tombstone = keys.find_one({"_id": case_id})
    assert (tombstone["wrapped"], tombstone["master_key_id"]) == (None, None)
    assert tombstone["erased_at"] is not None

    # The cell: the case, its facts and the declarant's identity.
    view = eventually(
        lambda: (v := cluster.cases.get_case(case_id, MANAGER))["status"] == "erased" and v
    )
    assert view["phase"] == "clôture" and view["outcome"] == "facts-confirmed"
    facts = view["facts"]
    assert [
        facts[name] for name in ("narrative", "place", "period", "alleged_author_relation")
    ] == [ERASED] * 4
    assert facts["kinds"] == ["discrimination", "harcelement-moral"]  # codes stay, in clear
    identity = cluster.cases.get_identity(case_id, LISTENER)
    assert [identity[name] for name in ("name", "email", "phone", "assignment", "corps")] == [
        ERASED
    ] * 5
    assert (identity["role"], identity["perimeter"]) == ("victim", "prefecture")

    # The interlocutor's referral, and the declarant's own follow-up.
    referral = cluster.referrals.get_referral(referral_id, INTERLOCUTOR)
    assert (referral["answer"], referral["measures"]) == (ERASED, [ERASED])
    followed = cluster.intake.follow_report(case_id, receipt_code)
    assert [message["message"] for message in followed["messages"]] == [ERASED]
    assert [added["message"] for added in followed["added"]] == [ERASED]

    # The timeline and an auditor's replay say what happened, never what was erased.
    timeline = eventually(
        lambda: (t := cluster.cases.get_timeline(case_id, MANAGER))[-1]["type"] == "CaseErased"
        and t
    )
    assert timeline[-1]["summary"] == "Données personnelles effacées"
    assert timeline[-1]["actor_id"] == "manager-1"
    replayed = replay_case(EventStore(database, upcaster=CATALOGUE.upcast), case_id)
    assert replayed["state"]["status"] == "erased"
    assert replayed["timeline"][-1]["type"] == "CaseErased"
    # An export of the log, opened with the master key: the placeholder in every field.
    values = personal_values(database, case_id)
    assert len(values) == len(SECRET) and set(values) == {ERASED}

    # The chain covers the ciphertext, which erasure left untouched.
    verification = verify_log(database.events)
    assert verification.ok, verification.problems
    assert verification.events_checked == database.events.count_documents({})

    # Statistics: the same live, replayed as of now, and rebuilt from the whole log.
    assert statistics(cluster) == before
    assert cluster.reporting.rebuild_statistics(ADMINISTRATOR)["identical"] is True
    assert statistics(cluster) == before

    # No document anywhere, events or keys, holds a single one of the texts.
    dumped = raw_documents(database)
    assert any(name.endswith(".keys." + case_id) for name in dumped)
    found = [
        (where, name)
        for where, text in dumped.items()
        for name, secret in SECRET.items()
        if any(form in text for form in forms(secret))
    ]
    assert found == []

    # An erased case takes no command, and nothing personal is recorded for it any more.
    for command, details in [
        ("reopen_case", {"reason": "nouveaux faits"}),
        ("inform_declarant", {"message": "Un dernier mot."}),
        ("erase_case", {}),
    ]:
        error = rpc_refusal(lambda c=command, d=details: case.do(c, MANAGER, **d))
        assert error.exc_type == "Refused"
        assert json.loads(error.value)["refused"] == (
            f"{command} refused: the case is erased; "
            "an erased case takes no command: its personal data is gone for good"
        )
    error = rpc_refusal(
        lambda: cluster.intake.add_information(case_id, receipt_code, "Encore une chose.")
    )
    assert error.exc_type == "Refused" and "was erased" in error.value
    evidence = {
        "filename": "preuve.pdf",
        "content_type": "application/pdf",
        "content_base64": base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode(),
    }
    error = rpc_refusal(
        lambda: cluster.intake.add_information(case_id, receipt_code, "Un fichier.", [evidence])
    )
    assert error.exc_type == "Refused" and "was erased" in error.value
    assert list(database["fs.files"].find()) == []
    error = rpc_refusal(lambda: cluster.cases.request_identity_access(case_id, "contrôle", MANAGER))
    assert error.exc_type == "Refused"
    assert database.events.count_documents({"type": "CaseErased"}) == 1


def test_only_the_cell_manager_erases_and_only_a_closed_case(cluster, database):
    case = opened_case(cluster, database, cluster.intake.submit_report(report()))
    case.do("acknowledge_receipt")
    error = rpc_refusal(lambda: case.do("erase_case", MANAGER))
    assert error.exc_type == "Refused"
    assert json.loads(error.value)["refused"] == (
        "erase_case refused: the case is acknowledged; "
        "only a closed or transferred case is erased (close it first)"
    )
    case.do("close_case", outcome="information-only", reason="orienté")
    for someone in (LISTENER, actor("auditor", actor_id="auditor-1")):
        error = rpc_refusal(lambda s=someone: case.do("erase_case", s))
        assert error.exc_type == "Forbidden"
    denied = [
        (event["data"]["action"], event["data"]["claimed_role"])
        for event in database.events.find({"type": "AccessDenied"}).sort("position")
    ]
    assert denied == [("cases.erase_case", "listener"), ("cases.erase_case", "auditor")]
    error = rpc_refusal(lambda: case.do("erase_case", MANAGER, basis="because"))
    assert json.loads(error.value)["errors"] == {"basis": ["Must be one of: request, retention."]}
    assert database.events.count_documents({"type": "CaseErased"}) == 0
    assert cluster.cases.get_case(case.case_id, MANAGER)["facts"]["narrative"] != ERASED


def test_an_erasure_cut_short_after_destroying_the_key_is_completed_by_a_retry(cluster, database):
    case = opened_case(cluster, database, cluster.intake.submit_report(report()))
    case.do("acknowledge_receipt")
    case.do("close_case", outcome="information-only", reason="orienté")
    # What a crash between the two steps leaves: the key gone, no CaseErased in the log.
    cipher_for(database).keys.erase(case.case_id)
    assert cluster.cases.get_case(case.case_id, MANAGER)["status"] == "closed"
    command_id = "5d0c8f3e-7b1a-4c2d-9e8f-a1b2c3d4e5f6"
    first = cluster.cases.erase_case(case.case_id, MANAGER, case.version, command_id=command_id)
    again = cluster.cases.erase_case(case.case_id, MANAGER, case.version, command_id=command_id)
    assert first == again and first["event"] == "CaseErased"
    assert database.events.count_documents({"type": "CaseErased"}) == 1
    eventually(lambda: cluster.cases.get_case(case.case_id, MANAGER)["status"] == "erased")


def test_a_transferred_report_is_erased_with_the_case_its_transfer_opened(cluster, database):
    source = opened_case(cluster, database, cluster.intake.submit_report(report_naming(SECRET)))
    source.do("transfer_case", to_platform="PN", reason="agent de la police nationale")
    opened_there = eventually(
        lambda: database.events.find_one({"type": "CaseOpened", "data.transferred_from": "SG"})
    )
    police_manager = actor("cell-manager", platform="PN", actor_id="pn-manager")
    police_listener = actor("listener", platform="PN", actor_id="pn-listener")
    there = CaseDriver(cluster, opened_there["data"]["case_id"], LISTENER)
    eventually(lambda: database.cases_view.find_one({"_id": there.case_id}))

    # The report is still handled by the police: the sender may not erase it yet.
    error = rpc_refusal(lambda: source.do("erase_case", MANAGER))
    assert "still handled in the case its transfer opened" in json.loads(error.value)["refused"]

    there.do("acknowledge_receipt", police_listener)
    there.do("close_case", police_listener, outcome="information-only", reason="orienté")
    erased = there.do("erase_case", police_manager)
    stored = database.events.find_one({"_id": erased["event_id"]})
    assert stored["data"]["erased_subjects"] == [there.case_id, source.case_id]
    facts = cluster.cases.get_case(there.case_id, police_manager)["facts"]
    assert facts["narrative"] == ERASED
    # The sender's own case read the same report: its data is gone too, and it is erased now.
    assert cluster.cases.get_case(source.case_id, MANAGER)["facts"]["narrative"] == ERASED
    source.do("erase_case", MANAGER)
    eventually(lambda: cluster.cases.get_case(source.case_id, MANAGER)["status"] == "erased")
