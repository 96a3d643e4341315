from datetime import UTC, datetime, timedelta

import pytest

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import InvalidInput, Refused, load
from services.intake.domain import receive_report, report_id_for
from services.intake.schemas import ReportSubmissionSchema
from tests.helpers import report

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
DECLARANT = Actor("declarant", "declarant", "SG")


def submission(**changes):
    return load(ReportSubmissionSchema(), report(**changes), "report")


def refusal(payload) -> dict:
    with pytest.raises(InvalidInput) as refused:
        load(ReportSubmissionSchema(), payload, "report")
    return refused.value.errors


def test_a_valid_report_becomes_report_received_data():
    payload = submission()
    received = receive_report(payload, DECLARANT, NOW, report_id_for(payload))
    assert received.data["report_id"] == received.report_id
    assert received.data["channel"] == "web"
    assert received.data["received_at"] == NOW.isoformat()
    assert received.data["facts"]["kinds"] == ["discrimination", "harcelement-moral"]


def test_a_submission_id_makes_retries_name_the_same_report_and_event():
    payload = submission(submission_id="1b4e28ba-2fa1-41d2-883f-0016d3cca427")
    first = receive_report(payload, DECLARANT, NOW, report_id_for(payload))
    again = receive_report(payload, DECLARANT, NOW, report_id_for(payload))
    assert (first.report_id, first.event_id) == (again.report_id, again.event_id)
    assert report_id_for(submission()) != first.report_id


def test_reports_from_the_future_and_for_another_platform_are_refused():
    with pytest.raises(Refused, match="future"):
        tomorrow = submission(received_at=(NOW + timedelta(days=1)).isoformat())
        receive_report(tomorrow, DECLARANT, NOW, "r-1")
    with pytest.raises(Refused, match="platform PN"):
        receive_report(submission(), Actor("x", "listener", "PN"), NOW, "r-1")


def test_missing_fields_are_named():
    errors = refusal({"channel": "web"})
    assert errors["platform"] == ["Missing data for required field."]
    assert errors["declarant"] == ["Missing data for required field."]
    assert errors["facts"] == ["Missing data for required field."]


def test_wrong_types_unknown_channel_and_unknown_fields_are_named():
    bad = report(channel="fax", platform=12)
    bad["facts"] = {**bad["facts"], "kinds": "discrimination", "narrative": ["x"]}
    bad["extra"] = True
    errors = refusal(bad)
    assert "Must be one of" in errors["channel"][0]
    assert errors["platform"] == ["Not a valid string."]
    assert errors["facts"]["kinds"] == ["Not a valid list."]
    assert errors["facts"]["narrative"] == ["Not a valid string."]
    assert errors["extra"] == ["Unknown field."]


def test_mongodb_operators_are_refused_where_values_are_expected():
    bad = report(channel={"$gt": ""})
    bad["declarant"] = {**bad["declarant"], "name": {"$ne": None}}
    bad["$where"] = "sleep(1000)"
    errors = refusal(bad)
    assert errors["channel"] == ["Not a valid string."]
    assert errors["declarant"]["name"] == ["Not a valid string."]
    assert errors["$where"] == ["Unknown field."]


def test_kinds_and_criteria_are_checked_against_the_versioned_lists():
    twice = report()
    twice["facts"] = {**twice["facts"], "kinds": ["discrimination", "discrimination"]}
    assert refusal(twice)["facts"]["kinds"] == ["Values must be unique."]
    before_2022 = report()
    before_2022["facts"] = {
        **before_2022["facts"],
        "criteria": ["lanceur-d-alerte"],
        "criteria_version": 1,
    }
    assert "lanceur-d-alerte" in refusal(before_2022)["facts"]["criteria"][0]
    empty = report()
    empty["facts"] = {**empty["facts"], "kinds": []}
    assert refusal(empty)["facts"]["kinds"] == ["At least one kind of facts."]


def test_a_payload_that_is_not_an_object_is_refused():
    assert refusal(["not", "an", "object"]) == {
        "_schema": ["Invalid input type: expected an object."]
    }
