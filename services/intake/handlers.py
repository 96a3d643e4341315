"""The intake service layer: file a report from any channel, follow it with a receipt code.

No nameko here. A report is appended first and its receipt code registered after: a retry of
a submission that was stored but whose code was lost gets a fresh code, and a retry of one
that fully succeeded gets none (a code is shown once).
"""

from __future__ import annotations

import base64
import mailbox
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import InvalidInput, NotFound, Refused, load
from allodiscri.kernel.case_states import Status, fold
from allodiscri.kernel.events import ANY, NO_STREAM, WrongExpectedVersion, stream_name
from allodiscri.kernel.statemachine import WorkflowRefusal
from allodiscri.kernel.unit_of_work import UnitOfWork
from allodiscri.platform.crypto import SubjectErased
from allodiscri.platform.unit_of_work import erased_case_refusal
from services.intake import minutes
from services.intake.attachments import AttachmentRefused, AttachmentStore
from services.intake.domain import NAMESPACE, receive_report, report_id_for
from services.intake.mail import MalformedMail, ParsedMail
from services.intake.receipts import (
    ReceiptAlreadyRegistered,
    ReceiptCodes,
    ReceiptLocked,
    format_receipt_code,
    new_receipt_code,
)
from services.intake.schemas import ReportSubmissionSchema

DECLARANT_ACTOR_ID = "declarant"


@dataclass
class Intake:
    """What every intake operation works with."""

    work: UnitOfWork
    attachments: AttachmentStore
    receipts: ReceiptCodes


def store_files(intake: Intake, files: list[dict[str, Any]], owner: str) -> list[dict[str, Any]]:
    stored = []
    for index, file in enumerate(files):
        try:
            stored.append(
                intake.attachments.put(
                    file["filename"], file["content_type"], file["content_base64"], owner
                )
            )
        except AttachmentRefused as refused:
            raise InvalidInput(
                "attachments", {"attachments": {str(index): [refused.reason]}}
            ) from None
        except SubjectErased as erased:
            raise erased_case_refusal(erased) from erased
    return stored


def file_report(
    intake: Intake,
    submission: dict[str, Any],
    filer: Actor,
    source_reference: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record ReportReceived (attachments first, in GridFS) and give the receipt code once."""
    now = now or datetime.now(UTC)
    report_id = report_id_for(submission)
    received = receive_report(submission, filer, now, report_id)  # refuse before storing files
    if intake.work.find(received.event_id) is None:
        # Only a first filing builds the event: a retry would differ in what it takes from
        # the clock (received_at), and the log keeps the first.
        files = store_files(intake, submission.get("attachments", []), report_id)
        received = receive_report(submission, filer, now, report_id, files, source_reference)
        intake.work.record(
            "report",
            report_id,
            "ReportReceived",
            received.data,
            actor=filer,
            expected_version=NO_STREAM,
            event_id=received.event_id,
        )
    code = new_receipt_code()
    try:
        intake.receipts.register(received.report_id, code)
    except ReceiptAlreadyRegistered:
        return {"report_id": received.report_id, "receipt_code": None, "already_received": True}
    return {
        "report_id": received.report_id,
        "receipt_code": format_receipt_code(code),
        "already_received": False,
    }


def draft_minutes(intake: Intake, report_id: str, text: str, listener: Actor) -> int:
    """The minutes of an oral report, right after its ReportReceived (idempotent by report)."""
    result = intake.work.record(
        "report",
        report_id,
        "MinutesDrafted",
        {"report_id": report_id, "text": text},
        actor=listener,
        expected_version=1,
        event_id=str(uuid.uuid5(NAMESPACE, f"MinutesDrafted:{report_id}")),
    )
    return result.version


def declarant(intake: Intake, report_id: str, receipt_code: str) -> Actor:
    """The declarant of `report_id`, if the code is theirs; refused (and counted) otherwise."""
    try:
        valid = intake.receipts.check(report_id, receipt_code)
    except ReceiptLocked as locked:
        until = datetime.fromtimestamp(locked.until, UTC).isoformat(timespec="seconds")
        raise Refused(f"too many wrong codes for this report: try again after {until}") from None
    opened = next(intake.work.read_stream(stream_name("report", report_id)), None)
    if not valid or opened is None:
        raise NotFound("report", report_id)
    return Actor(DECLARANT_ACTOR_ID, "declarant", opened.data["platform"])


def change_minutes(
    intake: Intake, report_id: str, command, actor: Actor, expected_version: int | None = None
) -> dict[str, Any]:
    stream = stream_name("report", report_id)
    current = minutes.fold(intake.work.read_stream(stream))
    if current is None:
        raise NotFound("minutes", report_id)
    if expected_version is not None and expected_version != current.version:
        raise WrongExpectedVersion(stream, expected_version, current.version)
    try:
        event_type, data = minutes.decide(current, command)
    except WorkflowRefusal as refusal:
        raise Refused(str(refusal)) from None
    result = intake.work.record(
        "report", report_id, event_type, data, actor=actor, expected_version=current.version
    )
    return {"report_id": report_id, "event": event_type, "version": result.version}


def follow_up(intake: Intake, report_id: str) -> dict[str, Any]:
    """What the declarant may see of their report: where it stands and the cell's messages."""
    work = intake.work
    report_events = work.open_events(work.read_stream(stream_name("report", report_id)))
    case_events = work.open_events(work.read_stream(stream_name("case", report_id)))
    case = fold(case_events)
    status = DECLARANT_STATUS[case.status if case is not None else Status.RECEIVED]
    messages = []
    for event in case_events:
        if event.type == "DeclarantInformed":
            messages.append({"at": event.recorded_at.isoformat(), "message": event.data["message"]})
    current_minutes = minutes.fold(report_events)
    return {
        "report_id": report_id,
        "received_at": report_events[0].data["received_at"],
        "status": status,
        "messages": messages,
        "minutes": None
        if current_minutes is None
        else {"status": current_minutes.status.value, "text": current_minutes.text},
        "added": [
            {"at": event.recorded_at.isoformat(), "message": event.data["message"]}
            for event in report_events
            if event.type == "DeclarantAddedInformation"
        ],
    }


# What a declarant is told of the case's progress: the phase, not the cell's inner steps. The
# case's state comes from the one fold of the case events (allodiscri.kernel.case_states).
DECLARANT_STATUS = {
    Status.RECEIVED: "received",
    Status.ACKNOWLEDGED: "acknowledged",
    Status.INTERVIEW_SCHEDULED: "interview scheduled",
    Status.IN_TREATMENT: "in treatment",
    Status.INQUIRY: "administrative inquiry",
    Status.CLOSED: "closed",
    Status.TRANSFERRED: "transferred to another platform",
    Status.ERASED: "closed",
}


def add_information(
    intake: Intake, report_id: str, message: str, files: list[dict[str, Any]], actor: Actor
) -> dict[str, Any]:
    stored = store_files(intake, files, report_id)
    result = intake.work.record(
        "report",
        report_id,
        "DeclarantAddedInformation",
        {"report_id": report_id, "message": message, "attachments": stored},
        actor=actor,
        expected_version=ANY,
    )
    return {"report_id": report_id, "version": result.version}


MAIL_ACTOR_ID = "mail-intake"


def ingest_mail(
    intake: Intake,
    parsed: ParsedMail,
    platform: str,
    outbox: mailbox.Maildir | None,
    sender_address: str,
    now: datetime | None = None,
) -> str:
    """File one e-mail as a report, once per message key; refusals become quarantine reasons.

    A first filing writes the acknowledgement with the receipt code to `outbox`, a Maildir
    folder the cell's mail server sends from.
    """
    now = now or datetime.now(UTC)
    received_at = parsed.received_at if parsed.received_at and parsed.received_at <= now else now
    narrative = f"{parsed.subject}\n\n{parsed.body}".strip() or "(pièces jointes seules)"
    payload = {
        "submission_id": str(uuid.uuid5(NAMESPACE, f"mail:{parsed.key}")),
        "platform": platform,
        "channel": "email",
        "received_at": received_at.isoformat(),
        "declarant": {"name": (parsed.sender_name or parsed.sender)[:200], "email": parsed.sender},
        "facts": {"kinds": [], "narrative": narrative[:20_000]},
        "attachments": [
            {
                "filename": attachment.filename,
                "content_type": attachment.content_type,
                "content_base64": base64.b64encode(attachment.data).decode("ascii"),
            }
            for attachment in parsed.attachments
        ],
    }
    try:
        submission = load(ReportSubmissionSchema(), payload, "report")
        filed = file_report(
            intake,
            submission,
            Actor(MAIL_ACTOR_ID, "system", platform),
            source_reference=parsed.key,
            now=now,
        )
    except (InvalidInput, Refused) as refused:
        raise MalformedMail(f"refused as a report: {refused}") from None
    if filed["receipt_code"] and outbox is not None:
        outbox.add(_acknowledgement(parsed, filed, sender_address))
    return filed["report_id"]


def _acknowledgement(parsed: ParsedMail, filed: dict[str, Any], sender_address: str):
    message = EmailMessage()
    message["From"] = sender_address
    message["To"] = parsed.sender
    message["Subject"] = "Accusé de réception de votre signalement"
    if not parsed.key.startswith("sha256:"):
        message["In-Reply-To"] = f"<{parsed.key}>"
    message.set_content(
        "Bonjour,\n\n"
        "La cellule d'écoute a bien reçu votre signalement.\n\n"
        f"Référence du signalement : {filed['report_id']}\n"
        f"Code de suivi : {filed['receipt_code']}\n\n"
        "Conservez ce code : il vous permet de suivre votre signalement et d'y ajouter des "
        "informations. Il ne vous sera pas redonné.\n"
    )
    return message
