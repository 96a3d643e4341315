"""Reports in through intake RPC; cases, statistics and published events out."""

import json

import pytest
from nameko.exceptions import RemoteError

from tests.helpers import actor, eventually, report

MANAGER = actor("cell-manager")


def test_a_submitted_report_becomes_a_case_and_a_count(cluster):
    report_id = cluster.intake.submit_report(report())["report_id"]
    case = eventually(lambda: _case_or_none(cluster, report_id))
    assert (case["status"], case["phase"]) == ("received", "recueil")
    assert case["kinds"] == ["discrimination", "harcelement-moral"]
    statistics = eventually(
        lambda: (s := cluster.reporting.get_statistics(MANAGER))["open_cases"] and s
    )
    assert statistics["reports"]["channel"] == {"web": 1}
    assert statistics["open_cases"]["kind"] == {"discrimination": 1, "harcelement-moral": 1}


def _case_or_none(cluster, case_id):
    try:
        return cluster.cases.get_case(case_id, MANAGER)
    except RemoteError as error:
        if error.exc_type == "NotFound":
            return None
        raise


def test_bad_input_is_refused_with_field_names_and_nothing_stored(cluster, database):
    bad = report(channel="fax")
    bad["declarant"] = {**bad["declarant"], "name": {"$gt": ""}}
    del bad["facts"]
    with pytest.raises(RemoteError) as refused:
        cluster.intake.submit_report(bad)["report_id"]
    assert refused.value.exc_type == "InvalidInput"
    errors = json.loads(refused.value.value)["errors"]
    assert set(errors) == {"channel", "declarant", "facts"}
    assert errors["declarant"] == {"name": ["Not a valid string."]}
    assert database.events.count_documents({}) == 0


def test_a_service_stopped_mid_way_catches_up_and_counts_every_report_once(
    cluster, platform, container_factory, platform_config, database
):
    from nameko.testing.utils import get_container

    from services.cases.service import CasesService

    first = [cluster.intake.submit_report(report())["report_id"] for _ in range(4)]
    eventually(lambda: all(_case_or_none(cluster, report_id) for report_id in first))
    get_container(platform, CasesService).stop()
    during = [
        cluster.intake.submit_report(report(channel="phone"), actor("listener"))["report_id"]
        for _ in range(4)
    ]
    assert database.events.count_documents({"type": "CaseOpened"}) == 4

    container_factory(CasesService, platform_config).start()
    eventually(lambda: all(_case_or_none(cluster, report_id) for report_id in during))
    eventually(lambda: cluster.reporting.get_statistics(MANAGER)["open_cases"].get("total") == 8)
    assert database.events.count_documents({"type": "CaseOpened"}) == 8
    statistics = cluster.reporting.get_statistics(MANAGER)
    assert statistics["reports"]["channel"] == {"web": 4, "phone": 4}
    assert statistics["open_cases"]["channel"] == {"web": 4, "phone": 4}
    rebuilt = cluster.reporting.rebuild_statistics(actor("administrator"))
    assert rebuilt["identical"] is True
    assert cluster.reporting.get_statistics(MANAGER) == statistics
