"""One statistics table as CSV (for a spreadsheet) or JSON (with its notes), with French labels
for the annual report. Pure: renders a view that confidentiality rules were already applied to.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from allodiscri.kernel.reference import (
    AGENT_CATEGORIES,
    AGENT_STATUSES,
    CHANNELS,
    CRITERIA_VERSIONS,
    DECLARANT_ROLES,
    INTERLOCUTORS,
    KINDS,
    OUTCOMES,
    PERIMETERS,
    PLATFORMS,
    REFERRAL_PURPOSES,
)
from services.reporting.domain import DIRECT, NO_CRITERION, UNKNOWN, UNQUALIFIED
from services.reporting.figures import TABLES

FORMATS = ("csv", "json")
SUMMARY_TABLES = ("durations", "compliance", "referral_answer_times")
EXPORTABLE = (*TABLES, *SUMMARY_TABLES)

_CRITERIA = {code: label for codes in CRITERIA_VERSIONS.values() for code, label in codes.items()}
_UNKNOWN = {UNKNOWN: "non renseigné"}

LABELS: dict[str, dict[str, str]] = {
    "kind": {**KINDS, UNQUALIFIED: "non qualifié"},
    "criterion": {**_CRITERIA, NO_CRITERION: "aucun critère"},
    "channel": {**CHANNELS, **_UNKNOWN},
    "declarant_role": {**DECLARANT_ROLES, **_UNKNOWN},
    "perimeter": {**PERIMETERS, **_UNKNOWN},
    "agent_status": {**AGENT_STATUSES, **_UNKNOWN},
    "agent_category": {**AGENT_CATEGORIES, **_UNKNOWN},
    "case_status": {
        "received": "reçu",
        "acknowledged": "accusé de réception envoyé",
        "interview-scheduled": "entretien programmé",
        "in-treatment": "en traitement",
        "inquiry": "enquête administrative",
        "closed": "clos",
        "transferred": "transféré à une autre plateforme",
    },
    "received_from": {
        DIRECT: "reçu par la plateforme",
        **{code: f"transféré par : {label}" for code, label in PLATFORMS.items()},
    },
    "outcome": OUTCOMES,
    "referral_interlocutor": INTERLOCUTORS,
    "referral_purpose": REFERRAL_PURPOSES,
    "referral_status": {
        "requested": "demandée",
        "sent": "envoyée",
        "acknowledged": "reçue par l'interlocuteur",
        "answered": "répondue",
        "closed": "close",
        "withdrawn": "retirée",
    },
}


def section(view: dict[str, Any], name: str) -> dict[str, Any]:
    return view[name] if name in SUMMARY_TABLES else view["tables"][name]


def to_json(view: dict[str, Any], name: str) -> str:
    exported = {
        key: view[key] for key in ("platform", "position", "as_of", "today", "confidentiality")
    }
    return json.dumps(
        {**exported, "table": name, "data": section(view, name)}, ensure_ascii=False, indent=2
    )


def to_csv(view: dict[str, Any], name: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows(view, name):
        writer.writerow("" if value is None else value for value in row)
    return buffer.getvalue()


def rows(view: dict[str, Any], name: str) -> list[list[Any]]:
    """The header, then one row per cell (and a total row for the dimension tables)."""
    data = section(view, name)
    if name == "durations":
        header = ["measure", "description", "count", "median_days", "p90_days"]
        return [header] + [
            [measure, s["description"], s["count"], s["median_days"], s["p90_days"]]
            for measure, s in data.items()
        ]
    if name == "compliance":
        verdicts = ["in_time", "late", "overdue", "pending", "total", "share_in_time"]
        return [["deadline", "rule", *verdicts]] + [
            [deadline, c["rule"], *(c[v] for v in verdicts)] for deadline, c in data.items()
        ]
    if name == "referral_answer_times":
        everyone = data["all"]
        return [
            ["interlocutor", "label", "count", "median_days", "p90_days"],
            ["all", "toutes", everyone["count"], everyone["median_days"], everyone["p90_days"]],
        ] + [
            [code, INTERLOCUTORS.get(code, code), s["count"], s["median_days"], s["p90_days"]]
            for code, s in data["by_interlocutor"].items()
        ]
    labels = LABELS.get(name, {})
    return (
        [["code", "label", "count"]]
        + [[code, labels.get(code, code), value] for code, value in data["cells"].items()]
        + [["total", data["unit"], data["total"]]]
    )


def render(view: dict[str, Any], name: str, file_format: str) -> str:
    return to_csv(view, name) if file_format == "csv" else to_json(view, name)
