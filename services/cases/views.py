"""The cases service's read models, folded from events: case views, timelines, reports.

Each fold is pure; `project` routes an event to the read models it feeds. Documents follow one
stream each (see allodiscri.platform.projections), except the timeline, which keeps one
entry per event.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from pymongo.database import Database

from allodiscri.kernel.case_states import PHASES, Case, Status, apply
from allodiscri.kernel.events import RecordedEvent
from allodiscri.kernel.reference import (
    CHANNELS,
    DEADLINES,
    INTERLOCUTORS,
    KINDS,
    OUTCOMES,
    PLATFORMS,
)
from allodiscri.platform.projections import Projection, apply_in_order, insert_once

CASES = "cases_view"
TIMELINE = "case_timeline"
REPORTS = "case_reports"
IDENTITY_ACCESS = "identity_access"


# -- case view --------------------------------------------------------------------------------


def case_to_document(case: Case) -> dict[str, Any]:
    document = dataclasses.asdict(case)
    document["status"] = case.status.value
    document["phase"] = PHASES[case.status]
    for name, value in document.items():
        if isinstance(value, datetime):
            continue  # an instant (closed_at) stays a date in MongoDB, like opened_at
        if isinstance(value, date):
            document[name] = value.isoformat()
        elif isinstance(value, tuple):
            document[name] = list(value)
    return document


def case_from_document(document: dict[str, Any]) -> Case:
    # A view written before a field existed (e.g. closed_at) takes the field's default.
    values = {
        field.name: document[field.name]
        for field in dataclasses.fields(Case)
        if field.name in document
    }
    for name in ("received_on", "acknowledged_on", "first_feedback_on"):
        values[name] = _date(values[name])
    for name in ("meeting_requested_on", "meeting_held_on"):
        values[name] = _date(values[name])
    values["status"] = Status(values["status"])
    if values["status_before_interview"]:
        values["status_before_interview"] = Status(values["status_before_interview"])
    values["kinds"] = tuple(values["kinds"])
    values["criteria"] = tuple(values["criteria"])
    return Case(**values)


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def fold_case_view(current: dict[str, Any] | None, event: RecordedEvent) -> dict[str, Any]:
    case = apply(None if current is None else case_from_document(current), event)
    extra: dict[str, Any] = {"last_event_at": event.recorded_at}
    if event.type == "CaseOpened":
        extra |= {
            "channel": event.data["channel"],
            "report_id": event.data["report_id"],
            "transferred_from": event.data.get("transferred_from"),
            "opened_at": event.recorded_at,
        }
    return {**(current or {}), **case_to_document(case), **extra}


# -- timeline ---------------------------------------------------------------------------------


def _labels(codes, table) -> str:
    return ", ".join(table.get(code, code) for code in codes)


def _deadline(data) -> str:
    return DEADLINES[data["deadline"]]


SUMMARIES = {
    "CaseOpened": lambda d: (
        f"Dossier ouvert (canal : {CHANNELS[d['channel']]})"
        + (
            f", transféré de {PLATFORMS[d['transferred_from']]}"
            if d.get("transferred_from")
            else ""
        )
    ),
    "ReceiptAcknowledged": lambda d: "Accusé de réception envoyé au déclarant",
    "ListenerAssigned": lambda d: f"Dossier attribué à {d['listener_id']}",
    "InterviewScheduled": lambda d: f"Entretien prévu le {d['scheduled_for'][:16]} ({d['mode']})",
    "InterviewHeld": lambda d: "Entretien tenu, notes enregistrées",
    "InterviewMissed": lambda d: "Entretien manqué",
    "DeclarantUnreachable": lambda d: "Déclarant injoignable",
    "TreatmentBegun": lambda d: "Traitement engagé sans entretien",
    "FactsQualified": lambda d: f"Faits qualifiés : {_labels(d['kinds'], KINDS)}",
    "FactsReclassified": lambda d: f"Faits requalifiés : {_labels(d['kinds'], KINDS)}",
    "MeetingRequested": lambda d: "Le déclarant demande une rencontre",
    "MeasureRecorded": lambda d: f"Mesure de l'administration enregistrée ({d['taken_by']})",
    "DeclarantInformed": lambda d: "Message envoyé au déclarant",
    "AdministrativeInquiryOpened": lambda d: "Enquête administrative ouverte",
    "CaseClosed": lambda d: f"Dossier clos : {OUTCOMES[d['outcome']]}",
    "CaseReopened": lambda d: "Dossier rouvert",
    "CaseTransferred": lambda d: f"Transféré à la plateforme {PLATFORMS[d['to_platform']]}",
    "CaseErased": lambda d: "Données personnelles effacées",
    "DeadlineApproaching": lambda d: f"Échéance proche le {d['due_on']} : {_deadline(d)}",
    "DeadlineMissed": lambda d: f"Échéance dépassée le {d['due_on']} : {_deadline(d)}",
    "MinutesDrafted": lambda d: "Procès-verbal de l'appel rédigé",
    "MinutesShown": lambda d: "Procès-verbal présenté au déclarant",
    "MinutesRectified": lambda d: "Procès-verbal rectifié par le déclarant",
    "MinutesConfirmed": lambda d: "Procès-verbal confirmé par le déclarant",
    "MinutesSigned": lambda d: "Procès-verbal signé par le déclarant",
    "DeclarantAddedInformation": lambda d: "Le déclarant a ajouté des informations",
    "ReferralRequested": lambda d: f"Saisine demandée : {INTERLOCUTORS[d['interlocutor']]}",
    "ReferralSent": lambda d: "Saisine envoyée à l'interlocuteur",
    "ReferralAcknowledged": lambda d: "L'interlocuteur a accusé réception de la saisine",
    "ReferralAnswered": lambda d: "Réponse de l'interlocuteur enregistrée",
    "ReferralReminded": lambda d: f"Relance n°{d['reminder']} de l'interlocuteur",
    "ReferralClosed": lambda d: "Saisine close",
    "ReferralWithdrawn": lambda d: "Saisine retirée",
}


def timeline_entry(event: RecordedEvent) -> dict[str, Any]:
    summary = SUMMARIES.get(event.type, lambda d: event.type)(event.data)
    return {
        "_id": event.id,
        # A report's own steps (minutes, additions) belong to the case opened for it.
        "case_id": event.data.get("case_id") or event.data["report_id"],
        "position": event.position,
        "at": event.recorded_at,
        "type": event.type,
        "stream": event.stream,
        "actor_id": event.meta.actor_id,
        "actor_role": event.meta.actor_role,
        "summary": summary,
    }


# -- identity access ---------------------------------------------------------------------------


def fold_identity_access(current: dict[str, Any] | None, event: RecordedEvent) -> dict[str, Any]:
    document = dict(current or {"case_id": event.data["case_id"], "requests": {}})
    requests = dict(document["requests"])
    data = event.data
    if event.type == "IdentityAccessRequested":
        requests[data["request_id"]] = {"requester_id": data["requester_id"], "status": "requested"}
    elif event.type == "IdentityAccessGranted":
        requests[data["request_id"]] = {**requests[data["request_id"]], "status": "granted"}
    elif event.type == "IdentityAccessRefused":
        requests[data["request_id"]] = {**requests[data["request_id"]], "status": "refused"}
    document["requests"] = requests
    return document


def project(database: Database, event: RecordedEvent) -> None:
    """Route `event` to every read model of the cases service it feeds."""
    if event.stream_type == "case":
        apply_in_order(database[CASES], event.stream_id, event, fold_case_view)
        insert_once(database[TIMELINE], timeline_entry(event))
    elif event.stream_type in ("referral", "deadline"):
        insert_once(database[TIMELINE], timeline_entry(event))
    elif event.stream_type == "access":
        apply_in_order(database[IDENTITY_ACCESS], event.stream_id, event, fold_identity_access)
    elif event.stream_type == "report" and event.type != "ReportReceived":
        insert_once(database[TIMELINE], timeline_entry(event))
    elif event.type == "ReportReceived":
        insert_once(
            database[REPORTS],
            {
                "_id": event.data["report_id"],
                "declarant": event.data["declarant"],
                "facts": event.data["facts"],
            },
        )


def identity_granted(database: Database, case_id: str, actor_id: str) -> bool:
    document = database[IDENTITY_ACCESS].find_one({"_id": case_id}) or {"requests": {}}
    return any(
        request["requester_id"] == actor_id and request["status"] == "granted"
        for request in document["requests"].values()
    )


PROJECTION = Projection(
    name="cases-views",
    collections=(CASES, TIMELINE, REPORTS, IDENTITY_ACCESS),
    project=project,
    stream_types=frozenset({"case", "referral", "access", "deadline", "report"}),
)
