"""The retention clock erases the cases whose platform's retention ran out, once each.

The Secrétariat général keeps closed cases 0.0000001 years here (about 3 seconds), so the
clock (every 0.3 s in tests) meets a case past its retention within the test; the police keep
theirs the default five years.
"""

import time

import pytest

from allodiscri.platform.crypto import keys_database_name
from services.cases.retention import RetentionSettingError
from services.cases.service import CasesService
from tests.helpers import actor, eventually, report

ERASED = "[effacé]"  # what an erased field reads (README), stated here, not imported
LISTENER = actor("listener", actor_id="listener-1")
MANAGER = actor("cell-manager", actor_id="manager-1")
INTERLOCUTOR = actor("referral-interlocutor", actor_id="rh-1")
POLICE = actor("listener", platform="PN", actor_id="pn-listener")


@pytest.fixture
def platform_config(platform_config):
    return {**platform_config, "RETENTION_YEARS": "SG=0.0000001"}


def test_a_malformed_retention_stops_the_cases_service_at_start(runner_factory, platform_config):
    runner = runner_factory({**platform_config, "RETENTION_YEARS": "SG=cinq"}, CasesService)
    with pytest.raises(RetentionSettingError, match="'SG=cinq' is not a number of years"):
        runner.start()


def closed_case(cluster, database, who=LISTENER, platform="SG", awaiting=False):
    """A case closed now; with `awaiting`, closed with a referral sent and still unanswered
    (returned with the referral's version)."""
    case_id = cluster.intake.submit_report(report(platform=platform))["report_id"]
    eventually(lambda: database.cases_view.find_one({"_id": case_id}))
    version = cluster.cases.acknowledge_receipt(case_id, who, 1)["version"]
    closing, referral = {}, None
    if awaiting:
        referral_id = cluster.referrals.request_referral(case_id, "hr-office", "support", who)
        referral = cluster.referrals.send_referral(referral_id, who, 1)
        closing["referrals_disposition"] = "await-answers"
    cluster.cases.close_case(
        case_id, who, version, outcome="information-only", reason="orienté", **closing
    )
    return case_id, referral


def erasures(database, case_id) -> list[dict]:
    return list(database.events.find({"type": "CaseErased", "data.case_id": case_id}))


def test_cases_past_their_platform_retention_are_erased_once(cluster, database):
    expired, _ = closed_case(cluster, database)
    awaiting, referral = closed_case(cluster, database, awaiting=True)
    police, _ = closed_case(cluster, database, POLICE, platform="PN")
    still_open = cluster.intake.submit_report(report())["report_id"]

    (erased,) = eventually(lambda: erasures(database, expired), timeout=30)
    assert erased["data"] == {
        "case_id": expired,
        "basis": "retention",
        "erased_subjects": [expired],
    }
    assert (erased["meta"]["actor_id"], erased["meta"]["actor_role"]) == (
        "retention-clock",
        "system",
    )
    assert cluster.cases.get_case(expired, MANAGER)["facts"]["narrative"] == ERASED
    keys = database.client.get_database(keys_database_name(database.name)).keys
    assert keys.find_one({"_id": expired})["wrapped"] is None

    # A referral still awaiting its answer holds the erasure back, run after run.
    time.sleep(1.5)
    assert erasures(database, awaiting) == []
    assert cluster.cases.get_case(awaiting, MANAGER)["status"] == "closed"
    referral_id = referral["referral_id"]
    answered = cluster.referrals.answer_referral(
        referral_id, INTERLOCUTOR, referral["version"], answer="Vu.", measures=[]
    )
    cluster.referrals.close_referral(referral_id, LISTENER, answered["version"], reason="répondu")
    eventually(lambda: erasures(database, awaiting), timeout=30)

    # Many runs later: each case erased once; the police's and the open case kept.
    time.sleep(1)
    assert len(erasures(database, expired)) == len(erasures(database, awaiting)) == 1
    assert erasures(database, police) == [] and erasures(database, still_open) == []
    police_case = cluster.cases.get_case(police, actor("cell-manager", platform="PN"))
    assert police_case["status"] == "closed"
    assert police_case["facts"]["narrative"] == report()["facts"]["narrative"]
    assert cluster.cases.get_case(still_open, MANAGER)["facts"]["narrative"] != ERASED
