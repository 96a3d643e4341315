"""Deadline alerts fire once per deadline, with two timer instances and across a restart."""

import time
from datetime import datetime, timedelta

from allodiscri.kernel.workdays import PLATFORM_TIMEZONE, WorkingDayCalendar
from services.cases.service import CasesService
from tests.helpers import actor, eventually, report

CALENDAR = WorkingDayCalendar()
LISTENER = actor("listener")


def received(days_ago: int) -> str:
    return (datetime.now(PLATFORM_TIMEZONE) - timedelta(days=days_ago)).isoformat()


def submit_letter(cluster, days_ago: int) -> str:
    letter = report(channel="postal", received_at=received(days_ago))
    return cluster.intake.submit_report(letter, LISTENER)["report_id"]


def alerts_of(database, case_id):
    return sorted(
        (e["type"], e["data"]["deadline"], e["data"]["due_on"])
        for e in database.events.find({"stream": f"deadline-{case_id}"})
    )


def approaching_days_ago() -> int:
    """How long ago a report was received whose acknowledgement falls due in 1-2 working days."""
    today = datetime.now(PLATFORM_TIMEZONE).date()
    for days_ago in range(1, 15):
        due = CALENDAR.add_working_days(today - timedelta(days=days_ago), 7)
        if due >= today and CALENDAR.working_days_between(today, due) <= 2:
            return days_ago
    raise AssertionError("no such day")


def test_each_alert_is_recorded_once_with_two_timers_and_after_a_restart(
    cluster, database, container_factory, platform_config
):
    second = container_factory(CasesService, platform_config)
    second.start()
    late = submit_letter(cluster, 30)
    soon = submit_letter(cluster, approaching_days_ago())
    fresh = cluster.intake.submit_report(report())["report_id"]

    eventually(lambda: alerts_of(database, late) and alerts_of(database, soon))
    time.sleep(1.5)  # several ticks of both timers
    second.stop()
    container_factory(CasesService, platform_config).start()  # a restart
    time.sleep(1.0)

    [(kind, deadline, due_on)] = alerts_of(database, late)
    assert (kind, deadline) == ("DeadlineMissed", "acknowledgement")
    assert alerts_of(database, soon)[0][:2] == ("DeadlineApproaching", "acknowledgement")
    assert len(alerts_of(database, soon)) == 1
    assert alerts_of(database, fresh) == []
    timeline = eventually(
        lambda: (t := cluster.cases.get_timeline(late, LISTENER))[-1]["type"] == "DeadlineMissed"
        and t
    )
    assert timeline[-1]["summary"].startswith(f"Échéance dépassée le {due_on}")


def test_an_acknowledged_report_raises_no_more_alerts(cluster, database):
    case_id = submit_letter(cluster, 30)
    eventually(lambda: database.cases_view.find_one({"_id": case_id}))
    cluster.cases.acknowledge_receipt(case_id, LISTENER, 1)
    before = alerts_of(database, case_id)
    # The timer may have seen the case before the acknowledgement: at most that one alert.
    assert [alert[:2] for alert in before] in ([], [("DeadlineMissed", "acknowledgement")])
    time.sleep(1.0)
    assert alerts_of(database, case_id) == before
