"""Intake: reports in on the four channels, and the declarant's follow-up with a receipt code.

Thin entrypoints over services.intake.handlers; the e-mail channel is a timer polling the
cell's Maildir when MAILDIR is configured.
"""

from __future__ import annotations

import mailbox
import os
from pathlib import Path

from nameko.dependency_providers import Config
from nameko.rpc import rpc
from nameko.timer import timer

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import EXPECTED_ERRORS, Refused, jsonable, load
from allodiscri.platform.access import Access, Forbidden
from allodiscri.platform.dependencies import EventRelay, Keys, ReadModels, UnitOfWorkProvider
from services.intake import handlers, minutes
from services.intake.attachments import DEFAULT_MAX_BYTES, AttachmentStore
from services.intake.mail import MaildirIngest
from services.intake.receipts import ReceiptCodes
from services.intake.schemas import (
    AddedInformationSchema,
    FileSchema,
    FollowUpSchema,
    MinutesSchema,
    RectificationSchema,
    ReportCommandSchema,
    ReportSubmissionSchema,
)
from services.permissions import PERMISSIONS

ERRORS = (*EXPECTED_ERRORS, Forbidden)
# nameko reads a timer's interval when the class is defined, so it comes from the environment.
MAIL_POLL_INTERVAL = float(os.environ.get("MAIL_POLL_INTERVAL", "30"))
OUTBOX_FOLDER = "Outbox"


class IntakeService:
    name = "intake"

    work = UnitOfWorkProvider()
    keys = Keys()
    read_models = ReadModels()
    access = Access(PERMISSIONS)
    config = Config()
    relay = EventRelay(stream_types=("report",))

    def _intake(self) -> handlers.Intake:
        return handlers.Intake(
            self.work,
            AttachmentStore(
                self.read_models,
                self.keys,  # a file is sealed with its case's data key
                max_bytes=int(self.config.get("ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES)),
            ),
            ReceiptCodes(self.read_models),
        )

    def _file(self, report, actor, channel: str | None, extra_files=()) -> dict:
        filer = None if actor is None else self.access.actor(actor)
        if channel is not None and isinstance(report, dict):
            report = {**report, "channel": channel}
        submission = load(ReportSubmissionSchema(), report, "report")
        if filer is None:
            filer = Actor(handlers.DECLARANT_ACTOR_ID, "declarant", submission["platform"])
            if submission["channel"] != "web":
                raise Refused("a declarant reports through the web form (channel web)")
        submission["attachments"] = [*submission["attachments"], *extra_files]
        return handlers.file_report(self._intake(), submission, filer)

    # -- the four channels ---------------------------------------------------------------------

    @rpc(expected_exceptions=ERRORS)
    def submit_report(self, report, actor=None):
        """The web form (or a listener on the declarant's behalf). Returns the report id and,
        once, the receipt code."""
        return self._file(report, actor, None)

    @rpc(expected_exceptions=ERRORS)
    def record_phone_report(self, report, minutes_text, actor):
        """An oral report taken by a listener during the call, with the minutes drafted."""
        listener = self.access.actor(actor)
        text = load(MinutesSchema(), {"text": minutes_text}, "minutes")["text"]
        filed = self._file(report, actor, "phone")
        handlers.draft_minutes(self._intake(), filed["report_id"], text, listener)
        return filed

    @rpc(expected_exceptions=ERRORS)
    def transcribe_letter(self, report, scan, actor):
        """A letter transcribed by a listener, with the scan of the letter attached."""
        self.access.actor(actor)
        letter = load(FileSchema(), scan, "scan")
        return self._file(report, actor, "postal", [letter])

    @rpc(expected_exceptions=ERRORS)
    def show_minutes(self, report_id, actor, expected_version):
        listener = self.access.actor(actor)
        command = load(
            ReportCommandSchema(),
            {"report_id": report_id, "expected_version": expected_version},
            "minutes",
        )
        return handlers.change_minutes(
            self._intake(),
            str(command["report_id"]),
            minutes.ShowMinutes(),
            listener,
            command["expected_version"],
        )

    @timer(interval=MAIL_POLL_INTERVAL)
    def ingest_mail(self):
        """The e-mail channel: every message in the cell's Maildir becomes a report once."""
        maildir = self.config.get("MAILDIR")
        if not maildir:
            return None
        outbox = mailbox.Maildir(Path(maildir), create=False).add_folder(OUTBOX_FOLDER)
        intake = self._intake()
        ingest = MaildirIngest(
            maildir,
            lambda parsed: handlers.ingest_mail(
                intake,
                parsed,
                self.config.get("MAIL_PLATFORM", "SG"),
                outbox,
                self.config.get("MAIL_FROM", "cellule-ecoute@localhost"),
            ),
        )
        report = ingest.run_once()
        return {
            "ingested": len(report.ingested),
            "quarantined": len(report.quarantined),
            "failed": len(report.failed),
        }

    # -- the declarant, with the receipt code --------------------------------------------------

    def _declarant(self, schema, payload) -> tuple[Actor, dict]:
        self.access.require("declarant")
        request = load(schema(), payload, "follow-up")
        report_id = str(request["report_id"])
        return handlers.declarant(self._intake(), report_id, request["receipt_code"]), request

    @rpc(expected_exceptions=ERRORS)
    def follow_report(self, report_id, receipt_code):
        _, request = self._declarant(
            FollowUpSchema, {"report_id": report_id, "receipt_code": receipt_code}
        )
        return jsonable(handlers.follow_up(self._intake(), str(request["report_id"])))

    @rpc(expected_exceptions=ERRORS)
    def add_information(self, report_id, receipt_code, message, attachments=None):
        author, request = self._declarant(
            AddedInformationSchema,
            {
                "report_id": report_id,
                "receipt_code": receipt_code,
                "message": message,
                "attachments": attachments or [],
            },
        )
        return handlers.add_information(
            self._intake(),
            str(request["report_id"]),
            request["message"],
            request["attachments"],
            author,
        )

    @rpc(expected_exceptions=ERRORS)
    def rectify_minutes(self, report_id, receipt_code, text):
        author, request = self._declarant(
            RectificationSchema,
            {"report_id": report_id, "receipt_code": receipt_code, "text": text},
        )
        return handlers.change_minutes(
            self._intake(),
            str(request["report_id"]),
            minutes.RectifyMinutes(request["text"]),
            author,
        )

    @rpc(expected_exceptions=ERRORS)
    def confirm_minutes(self, report_id, receipt_code):
        author, request = self._declarant(
            FollowUpSchema, {"report_id": report_id, "receipt_code": receipt_code}
        )
        return handlers.change_minutes(
            self._intake(), str(request["report_id"]), minutes.ConfirmMinutes(), author
        )

    @rpc(expected_exceptions=ERRORS)
    def sign_minutes(self, report_id, receipt_code):
        author, request = self._declarant(
            FollowUpSchema, {"report_id": report_id, "receipt_code": receipt_code}
        )
        return handlers.change_minutes(
            self._intake(), str(request["report_id"]), minutes.SignMinutes(), author
        )
