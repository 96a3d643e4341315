"""Statistics over RPC: detailed figures for the cell and for analysts, exports, "as of" replays
that later events leave untouched, and the rebuild."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from nameko.exceptions import RemoteError

from tests.helpers import actor, eventually, report

LISTENER = actor("listener", actor_id="listener-1")
MANAGER = actor("cell-manager", actor_id="manager-1")
ANALYST = actor("analyst", actor_id="analyst-1")


def acknowledge_and_maybe_close(cluster, case_id, outcome=None):
    version = cluster.cases.acknowledge_receipt(case_id, LISTENER, 1)["version"]
    if outcome:
        cluster.cases.close_case(case_id, LISTENER, version, outcome=outcome, reason="Réglé.")


def settled(cluster, statuses):
    """The cell's figures once every case has the status given."""

    def check():
        view = cluster.reporting.get_detailed_statistics(MANAGER)
        return view["tables"]["case_status"]["cells"] == statuses and view

    return eventually(check)


def test_detailed_statistics_exports_and_as_of_over_rpc(cluster, database):
    case_ids = [cluster.intake.submit_report(report())["report_id"] for _ in range(7)]
    eventually(lambda: database.cases_view.count_documents({}) == 7)
    for case_id in case_ids[:6]:
        acknowledge_and_maybe_close(cluster, case_id)
    acknowledge_and_maybe_close(cluster, case_ids[6], outcome="sanction")
    referral_id = cluster.referrals.request_referral(case_ids[0], "hr-office", "support", LISTENER)

    # The cell: exact counts.
    view = settled(cluster, {"acknowledged": 6, "closed": 1})
    assert view["tables"]["kind"]["cells"] == {"discrimination": 7, "harcelement-moral": 7}
    assert view["tables"]["kind"]["multi_valued"] is True
    assert view["compliance"]["acknowledgement"]["share_in_time"] == 1.0
    assert view["durations"]["acknowledgement"]["median_days"] == 0
    eventually(lambda: cluster.reporting.get_detailed_statistics(MANAGER)["referrals"] == 1)

    # An analyst: nothing under 5, nothing that names a case or a person.
    seen = cluster.reporting.get_detailed_statistics(ANALYST)
    assert seen["confidentiality"]["exact_counts"] is False
    assert seen["tables"]["case_status"]["cells"] == {"acknowledged": "masked", "closed": "< 5"}
    assert seen["tables"]["outcome"]["total"] == "< 5" and seen["referrals"] == "< 5"
    assert seen["tables"]["channel"]["cells"] == {"web": 7}
    exported = cluster.reporting.export_statistics(ANALYST, "case_status", "csv")
    assert list(csv.reader(io.StringIO(exported)))[1:] == [
        ["acknowledged", "accusé de réception envoyé", "masked"],
        ["closed", "clos", "< 5"],
        ["total", "cases", "7"],
    ]
    as_json = json.loads(cluster.reporting.export_statistics(ANALYST, "kind", "json"))
    assert as_json["data"]["cells"] == {"discrimination": 7, "harcelement-moral": 7}
    everything = json.dumps(seen) + exported + json.dumps(as_json)
    for identifier in [*case_ids, referral_id, "Camille", "example.org", "Amiens"]:
        assert identifier not in everything

    # As of now: equal to the live figures; and still so after later events.
    published_at = datetime.now(UTC)
    published = cluster.reporting.get_detailed_statistics(MANAGER, published_at.isoformat())
    live = cluster.reporting.get_detailed_statistics(MANAGER)
    assert {**published, "as_of": None} == live
    later_id = cluster.intake.submit_report(report())["report_id"]
    eventually(lambda: database.cases_view.find_one({"_id": later_id}))
    acknowledge_and_maybe_close(cluster, later_id)
    settled(cluster, {"acknowledged": 7, "closed": 1})
    later = cluster.reporting.get_detailed_statistics(MANAGER, published_at.isoformat())
    assert later == published
    assert cluster.reporting.get_detailed_statistics(MANAGER)["cases"] == 8

    rebuilt = cluster.reporting.rebuild_statistics(actor("administrator"))
    assert rebuilt["identical"] is True
    assert cluster.reporting.get_detailed_statistics(MANAGER)["cases"] == 8


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda r: r.get_detailed_statistics(MANAGER, "2020-01-01T00:00:00"), "as_of"),
        (
            lambda r: r.get_detailed_statistics(
                MANAGER, (datetime.now(UTC) + timedelta(days=1)).isoformat()
            ),
            "as_of",
        ),
        (lambda r: r.export_statistics(MANAGER, "names"), "table"),
        (lambda r: r.export_statistics(MANAGER, "kind", "xlsx"), "format"),
    ],
)
def test_bad_statistics_queries_are_refused_by_field(cluster, call, field):
    with pytest.raises(RemoteError) as refused:
        call(cluster.reporting)
    assert refused.value.exc_type == "InvalidInput"
    assert list(json.loads(refused.value.value)["errors"]) == [field]
