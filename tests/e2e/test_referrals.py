"""Referrals through RPC: on open cases of the actor's platform only."""

import json

import pytest
from nameko.exceptions import RemoteError

from tests.helpers import actor, eventually, report

LISTENER = actor("listener", actor_id="listener-7")


def open_case(cluster, database):
    case_id = cluster.intake.submit_report(report())["report_id"]
    eventually(lambda: database.events.find_one({"stream": f"case-{case_id}"}))
    return case_id


def test_a_referral_is_recorded_and_listed_at_once(cluster, database):
    case_id = open_case(cluster, database)
    first = cluster.referrals.request_referral(
        case_id, "occupational-physician", "support", LISTENER
    )
    second = cluster.referrals.request_referral(case_id, "hr-office", "authority", LISTENER)
    listed = cluster.referrals.list_referrals(case_id, LISTENER)
    assert [(r["referral_id"], r["interlocutor"]) for r in listed] == [
        (first, "occupational-physician"),
        (second, "hr-office"),
    ]
    assert all(r["status"] == "requested" and r["requested_by"] == "listener-7" for r in listed)
    stored = database.events.find_one({"stream": f"referral-{first}"})
    assert stored["meta"]["actor_id"] == "listener-7" and stored["meta"]["service"] == "referrals"


def test_a_retried_referral_request_is_recorded_once(cluster, database):
    case_id = open_case(cluster, database)
    command_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    first = cluster.referrals.request_referral(
        case_id, "hierarchy", "authority", LISTENER, command_id
    )
    again = cluster.referrals.request_referral(
        case_id, "hierarchy", "authority", LISTENER, command_id
    )
    assert first == again
    assert database.events.count_documents({"type": "ReferralRequested"}) == 1


def remote_error(call) -> RemoteError:
    with pytest.raises(RemoteError) as refused:
        call()
    return refused.value


def test_unknown_cases_and_other_platforms_cases_are_not_found(cluster, database):
    case_id = open_case(cluster, database)
    unknown = "00000000-0000-4000-8000-000000000000"
    stored_before = database.events.count_documents({})
    for case, who in [(unknown, LISTENER), (case_id, actor("listener", platform="PN"))]:
        error = remote_error(
            lambda c=case, w=who: cluster.referrals.request_referral(c, "hr-office", "support", w)
        )
        assert error.exc_type == "NotFound"
    error = remote_error(lambda: cluster.cases.get_case(case_id, actor("auditor", platform="GN")))
    assert error.exc_type == "NotFound"
    assert cluster.referrals.list_referrals(case_id, actor("listener", platform="PN")) == []
    assert database.events.count_documents({"type": {"$ne": "AccessDenied"}}) == stored_before


def test_bad_referral_input_is_refused_by_field(cluster, database):
    case_id = open_case(cluster, database)
    stored_before = database.events.count_documents({})
    error = remote_error(
        lambda: cluster.referrals.request_referral(case_id, "astrologer", "support", LISTENER)
    )
    assert error.exc_type == "InvalidInput"
    assert "interlocutor" in json.loads(error.value)["errors"]
    error = remote_error(
        lambda: cluster.referrals.request_referral({"$ne": None}, "hr-office", "support", LISTENER)
    )
    assert json.loads(error.value)["errors"] == {"case_id": ["Not a valid UUID."]}
    assert database.events.count_documents({}) == stored_before


def test_an_overdue_referral_is_reminded_once(cluster, database):
    import time
    from datetime import date, timedelta

    case_id = open_case(cluster, database)
    referral_id = cluster.referrals.request_referral(case_id, "inspection", "authority", LISTENER)
    thirty_days_ago = (date.today() - timedelta(days=30)).isoformat()
    cluster.referrals.send_referral(referral_id, LISTENER, 1, sent_on=thirty_days_ago)
    reminded = eventually(lambda: list(database.events.find({"type": "ReferralReminded"})))
    time.sleep(1.0)  # more ticks: reminder 2 falls due only 30 working days after sending
    assert len(list(database.events.find({"type": "ReferralReminded"}))) == 1
    assert reminded[0]["data"]["reminder"] == 1
    assert cluster.referrals.get_referral(referral_id, LISTENER)["reminders"] == 1
    error = remote_error(
        lambda: cluster.referrals.send_referral(referral_id, LISTENER, 3, sent_on="2099-01-01")
    )
    assert error.exc_type == "InvalidInput" and "sent_on" in error.value
