"""The case queue: filters, order, pages, overdue deadlines, and nothing of another platform."""

import json
from datetime import datetime, timedelta

import pytest
from nameko.exceptions import RemoteError

from allodiscri.kernel.workdays import PLATFORM_TIMEZONE
from tests.helpers import actor, eventually, report

LISTENER = actor("listener", actor_id="listener-q")


def test_the_queue_filters_sorts_pages_and_flags_overdue_cases(cluster, database):
    long_ago = (datetime.now(PLATFORM_TIMEZONE) - timedelta(days=40)).isoformat()
    letter = cluster.intake.submit_report(report(channel="postal", received_at=long_ago), LISTENER)[
        "report_id"
    ]
    web = [cluster.intake.submit_report(report())["report_id"] for _ in range(3)]
    other_platform = cluster.intake.submit_report(report(platform="GN"))["report_id"]
    eventually(lambda: database.cases_view.count_documents({}) == 5)
    cluster.cases.acknowledge_receipt(web[0], LISTENER, 1)
    cluster.cases.assign_listener(web[0], LISTENER, 2, listener_id="listener-q")

    everything = cluster.cases.list_cases(LISTENER)
    assert everything["total"] == 4 and other_platform not in {
        c["case_id"] for c in everything["cases"]
    }
    assert [c["case_id"] for c in everything["cases"]][-1] == letter  # newest first by default
    overdue = cluster.cases.list_cases(LISTENER, {"overdue": True})
    assert [c["case_id"] for c in overdue["cases"]] == [letter]
    assert overdue["cases"][0]["overdue"][0]["deadline"] == "acknowledgement"
    mine = cluster.cases.list_cases(LISTENER, {"listener_id": "listener-q"})
    assert [c["case_id"] for c in mine["cases"]] == [web[0]]
    assert cluster.cases.list_cases(LISTENER, {"status": ["acknowledged"]})["total"] == 1
    assert cluster.cases.list_cases(LISTENER, {"phase": "recueil"})["total"] == 4
    assert cluster.cases.list_cases(LISTENER, {"channel": "postal"})["total"] == 1
    assert cluster.cases.list_cases(LISTENER, {"kind": "discrimination"})["total"] == 4
    assert cluster.cases.list_cases(LISTENER, {"kind": "violence"})["total"] == 0
    first = cluster.cases.list_cases(LISTENER, {"sort": "received_on", "page_size": 3})
    second = cluster.cases.list_cases(LISTENER, {"sort": "received_on", "page_size": 3, "page": 2})
    assert first["cases"][0]["case_id"] == letter and len(second["cases"]) == 1
    assert not {c["case_id"] for c in first["cases"]} & {c["case_id"] for c in second["cases"]}
    assert "declarant" not in json.dumps(everything) and "narrative" not in json.dumps(everything)

    with pytest.raises(RemoteError) as refused:
        cluster.cases.list_cases(LISTENER, {"sort": "name", "page_size": 1000, "$where": 1})
    assert set(json.loads(refused.value.value)["errors"]) == {"sort", "page_size", "$where"}
