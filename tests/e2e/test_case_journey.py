"""A listener runs cases from receipt to closure through the services, as an outside caller."""

import base64
import json
import mailbox
from email.message import EmailMessage

import pytest

from tests.helpers import CaseDriver, actor, answered_referral, eventually, report, rpc_refusal

LISTENER = actor("listener", actor_id="listener-1")
MANAGER = actor("cell-manager", actor_id="manager-1")
INTERLOCUTOR = actor("referral-interlocutor", actor_id="rh-1")


def new_case(cluster, database, **report_changes):
    case_id = cluster.intake.submit_report(report(**report_changes))["report_id"]
    eventually(lambda: database.cases_view.find_one({"_id": case_id}))
    return case_id


def report_on(channel, cluster, database, maildir) -> str:
    """A report filed the way each channel files it; returns its case id once opened."""
    if channel == "web":
        report_id = cluster.intake.submit_report(report())["report_id"]
    elif channel == "phone":
        report_id = cluster.intake.record_phone_report(report(), "Procès-verbal.", LISTENER)[
            "report_id"
        ]
    elif channel == "postal":
        report_id = cluster.intake.transcribe_letter(report(), letter(), LISTENER)["report_id"]
    else:
        mailbox.Maildir(maildir).add(e_mail())
        opened = eventually(lambda: database.events.find_one({"data.channel": "email"}))
        report_id = opened["data"]["report_id"]
    eventually(lambda: database.cases_view.find_one({"_id": report_id}))
    return report_id


def letter():
    scan = base64.b64encode(b"%PDF-1.4 lettre").decode()
    return {"filename": "lettre.pdf", "content_type": "application/pdf", "content_base64": scan}


def e_mail():
    message = EmailMessage()
    message["From"] = "agent@agents.example.org"
    message["Subject"] = "Signalement"
    message["Message-ID"] = "<journey@agents.example.org>"
    message.set_content("Des remarques répétées sur mon origine.")
    return message


@pytest.mark.parametrize("channel", ["web", "email", "phone", "postal"])
def test_a_report_goes_through_the_four_phases_to_closure(channel, cluster, database, maildir):
    case = CaseDriver(cluster, report_on(channel, cluster, database, maildir), LISTENER)
    case.do("acknowledge_receipt")
    case.do("assign_listener", MANAGER, listener_id="listener-1")
    case.do("schedule_interview", scheduled_for="2026-12-02T10:00:00+01:00", mode="phone")
    case.do("hold_interview", notes="Entretien d'une heure; faits répétés depuis mars.")
    case.do("qualify_facts", kinds=["discrimination"], criteria=["origine"])
    texts = {
        "referral_note": "par courrier",
        "answer": "Changement d'équipe proposé.",
        "measure": "mutation interne",
        "referral_closed": "répondu",
    }
    answered_referral(cluster, case.case_id, LISTENER, INTERLOCUTOR, texts)
    case.do("record_measure", measure="Changement d'équipe", taken_by="bureau RH")
    case.do("inform_declarant", message="Des mesures ont été prises.")
    closed = case.do("close_case", outcome="facts-confirmed", reason="mesures prises")
    assert closed["event"] == "CaseClosed"

    view = eventually(
        lambda: (v := cluster.cases.get_case(case.case_id, MANAGER))["status"] == "closed" and v
    )
    assert (view["outcome"], view["phase"], view["open_referrals"]) == (
        "facts-confirmed",
        "clôture",
        [],
    )
    expected = [
        "CaseOpened",
        "ReceiptAcknowledged",
        "ListenerAssigned",
        "InterviewScheduled",
        "InterviewHeld",
        "FactsQualified",
        "ReferralRequested",
        "ReferralSent",
        "ReferralAcknowledged",
        "ReferralAnswered",
        "ReferralClosed",
        "MeasureRecorded",
        "DeclarantInformed",
        "CaseClosed",
    ]

    def steps_so_far():
        timeline = cluster.cases.get_timeline(case.case_id, LISTENER)
        # The minutes are the intake's step: they may land before or after the case opens.
        others = [entry["type"] for entry in timeline if entry["type"] != "MinutesDrafted"]
        return others == expected and timeline

    timeline = eventually(steps_so_far)
    assert ("MinutesDrafted" in [e["type"] for e in timeline]) == (channel == "phone")
    steps = {entry["type"]: entry for entry in timeline}
    assert steps["ListenerAssigned"]["actor_id"] == "manager-1"
    assert steps["ReceiptAcknowledged"]["actor_id"] == "listener-1"
    assert steps["ReferralAnswered"]["actor_role"] == "referral-interlocutor"
    assert timeline[-1]["summary"] == "Dossier clos : faits avérés, mesures prises"
    positions = [entry["position"] for entry in timeline]
    assert positions == sorted(positions)


def test_a_case_can_end_in_an_administrative_inquiry_and_a_closed_one_reopens(cluster, database):
    case = CaseDriver(cluster, new_case(cluster, database), LISTENER)
    case.do("acknowledge_receipt")
    case.do("begin_treatment", reason="le déclarant ne souhaite pas d'entretien")
    case.do("open_inquiry", reason="faits graves et répétés")
    case.do("record_measure", measure="suspension à titre conservatoire", taken_by="DRH")
    view = eventually(
        lambda: (v := cluster.cases.get_case(case.case_id, LISTENER))["status"] == "inquiry" and v
    )
    assert view["phase"] == "clôture"
    case.do("close_case", outcome="sanction", reason="sanction disciplinaire")
    case.do("reopen_case", reason="nouveaux faits signalés")
    assert eventually(
        lambda: cluster.cases.get_case(case.case_id, LISTENER)["status"] == "in-treatment"
    )


def test_refused_commands_name_the_state_and_the_rule_and_store_nothing(cluster, database):
    case = CaseDriver(cluster, new_case(cluster, database), LISTENER)
    stored = database.events.count_documents({"stream": f"case-{case.case_id}"})
    error = rpc_refusal(lambda: case.do("close_case", outcome="other", reason="x"))
    assert error.exc_type == "Refused"
    assert json.loads(error.value)["refused"] == (
        "close_case refused: the case is received; "
        "a case is closed after its acknowledgement, and only once"
    )
    error = rpc_refusal(lambda: case.do("acknowledge_receipt", who=actor("analyst")))
    assert error.exc_type == "Forbidden"
    error = rpc_refusal(lambda: case.do("schedule_interview", scheduled_for="demain", mode="fax"))
    assert set(json.loads(error.value)["errors"]) == {"scheduled_for", "mode"}
    assert database.events.count_documents({"stream": f"case-{case.case_id}"}) == stored


def test_closing_with_an_open_referral_asks_what_happens_to_it(cluster, database):
    case = CaseDriver(cluster, new_case(cluster, database), LISTENER)
    case.do("acknowledge_receipt")
    referral_id = cluster.referrals.request_referral(
        case.case_id, "social-worker", "support", LISTENER
    )
    error = rpc_refusal(lambda: case.do("close_case", outcome="information-only", reason="orienté"))
    assert "1 referral(s) are still open" in json.loads(error.value)["refused"]
    case.do(
        "close_case",
        outcome="information-only",
        reason="orienté",
        referrals_disposition="withdraw",
    )
    withdrawn = eventually(
        lambda: (r := cluster.referrals.get_referral(referral_id, LISTENER))["status"]
        == "withdrawn"
        and r
    )
    assert withdrawn["case_id"] == case.case_id
    error = rpc_refusal(lambda: cluster.referrals.send_referral(referral_id, LISTENER, 2))
    assert error.exc_type == "Refused"
    error = rpc_refusal(
        lambda: cluster.referrals.request_referral(case.case_id, "hr-office", "support", LISTENER)
    )
    assert "closed" in json.loads(error.value)["refused"]


def test_a_retried_command_returns_its_first_result(cluster, database):
    case = CaseDriver(cluster, new_case(cluster, database), LISTENER)
    command_id = "9b2f4c1e-5a6d-4e7f-8a9b-0c1d2e3f4a5b"
    first = cluster.cases.acknowledge_receipt(case.case_id, LISTENER, 1, command_id=command_id)
    again = cluster.cases.acknowledge_receipt(case.case_id, LISTENER, 1, command_id=command_id)
    assert first == again
    assert database.events.count_documents({"type": "ReceiptAcknowledged"}) == 1


def test_two_listeners_acting_at_once_get_a_conflict_not_a_lost_update(cluster, database):
    case_id = new_case(cluster, database)
    first = cluster.cases.assign_listener(case_id, MANAGER, 1, listener_id="listener-1")
    error = rpc_refusal(
        lambda: cluster.cases.assign_listener(case_id, MANAGER, 1, listener_id="listener-2")
    )
    assert error.exc_type == "WrongExpectedVersion"
    assert "expected version 1, actual 2" in error.value
    view = eventually(lambda: (v := cluster.cases.get_case(case_id, MANAGER))["version"] == 2 and v)
    assert view["listener_id"] == "listener-1" and first["version"] == 2


def test_a_report_for_another_platform_is_transferred_to_a_new_case_there(cluster, database):
    case = CaseDriver(cluster, new_case(cluster, database), LISTENER)
    case.do("transfer_case", to_platform="PN", reason="agent de la police nationale")
    police = actor("listener", platform="PN", actor_id="pn-listener")
    opened = eventually(
        lambda: database.events.find_one({"type": "CaseOpened", "data.transferred_from": "SG"})
    )
    new_case_id = opened["data"]["case_id"]
    view = eventually(lambda: database.cases_view.find_one({"_id": new_case_id}))
    assert view["platform"] == "PN"
    assert cluster.cases.get_case(new_case_id, police)["facts"]["narrative"]
    error = rpc_refusal(lambda: cluster.cases.get_case(new_case_id, LISTENER))
    assert error.exc_type == "NotFound"
