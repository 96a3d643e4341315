from services.reporting.domain import increments, nest
from services.reporting.statistics import flatten
from tests.unit.test_cases_and_referrals import CASE_ID, recorded, report_received


def test_a_report_counts_once_per_kind_and_once_in_the_total():
    assert increments(report_received()) == {
        "SG.reports.total": 1,
        "SG.reports.channel.web": 1,
        "SG.reports.kind.discrimination": 1,
        "SG.reports.kind.harcelement-moral": 1,
    }


def test_an_opened_case_counts_as_open():
    opened = recorded(
        "CaseOpened",
        {"platform": "GN", "channel": "phone", "kinds": ["violence"], "criteria": []},
        stream=f"case-{CASE_ID}",
    )
    assert increments(opened) == {
        "GN.open_cases.total": 1,
        "GN.open_cases.channel.phone": 1,
        "GN.open_cases.kind.violence": 1,
    }


def test_other_events_count_nothing():
    assert increments(recorded("ReferralRequested", {}, stream="referral-1")) == {}


def test_nest_and_flatten_are_inverse():
    flat = {"SG.reports.total": 2, "SG.reports.kind.violence": 1, "PN.open_cases.total": 1}
    assert nest(flat) == {
        "SG": {"reports": {"total": 2, "kind": {"violence": 1}}},
        "PN": {"open_cases": {"total": 1}},
    }
    assert flatten(nest(flat)) == flat
