"""The four intake channels and the declarant's follow-up, over RabbitMQ."""

import base64
import json
import mailbox
from email.message import EmailMessage

from bson import ObjectId

from allodiscri.platform.crypto import is_sealed
from services.intake.attachments import AttachmentStore
from tests.helpers import actor, cipher_for, eventually, opened, report, rpc_refusal

LISTENER = actor("listener", actor_id="listener-1")
PDF = b"%PDF-1.4\n% scan of a letter\n%%EOF\n"


def file(name="lettre.pdf", content_type="application/pdf", data=PDF):
    return {
        "filename": name,
        "content_type": content_type,
        "content_base64": base64.b64encode(data).decode(),
    }


def test_a_web_report_keeps_its_attachments_in_gridfs(cluster, database):
    filed = cluster.intake.submit_report(report(attachments=[file("capture.pdf")]))
    assert len(filed["receipt_code"].replace(" ", "")) == 16
    stored = database.events.find_one({"stream": f"report-{filed['report_id']}"})
    [attachment] = stored["data"]["attachments"]
    assert is_sealed(attachment["filename"])
    [attachment] = opened(database, stored["data"])["attachments"]
    assert (attachment["filename"], attachment["size"]) == ("capture.pdf", len(PDF))
    assert AttachmentStore(database, cipher_for(database).keys).get(attachment["file_id"]) == PDF
    chunks = b"".join(
        c["data"] for c in database["fs.chunks"].find({"files_id": ObjectId(attachment["file_id"])})
    )
    assert PDF not in chunks and b"scan of a letter" not in chunks  # sealed in GridFS
    assert "capture" not in repr(list(database["fs.files"].find()))


def test_refused_attachments_store_nothing(cluster, database):
    for bad in (
        file("virus.exe", "application/x-msdownload", b"MZ..."),
        file("faux.pdf", "application/pdf", b"not a pdf"),
        {**file(), "content_base64": "***"},
    ):
        error = rpc_refusal(lambda b=bad: cluster.intake.submit_report(report(attachments=[b])))
        assert error.exc_type == "InvalidInput"
        assert "attachments" in json.loads(error.value)["errors"]
    assert database.events.count_documents({}) == 0
    assert list(database["fs.files"].find()) == []


def test_a_declarant_cannot_claim_another_channel(cluster, database):
    error = rpc_refusal(lambda: cluster.intake.submit_report(report(channel="phone")))
    assert error.exc_type == "Refused"
    assert database.events.count_documents({}) == 0


def test_phone_minutes_are_drafted_shown_rectified_shown_confirmed_and_signed(cluster, database):
    filed = cluster.intake.record_phone_report(
        report(), "Le déclarant expose des remarques répétées.", LISTENER
    )
    report_id, code = filed["report_id"], filed["receipt_code"]
    shown = cluster.intake.show_minutes(report_id, LISTENER, 2)
    error = rpc_refusal(lambda: cluster.intake.sign_minutes(report_id, code))
    assert "sign_minutes refused: the minutes is shown" in error.value
    cluster.intake.rectify_minutes(report_id, code, "Remarques répétées, et une mise à l'écart.")
    cluster.intake.show_minutes(report_id, LISTENER, shown["version"] + 1)
    cluster.intake.confirm_minutes(report_id, code)
    cluster.intake.sign_minutes(report_id, code)
    followed = cluster.intake.follow_report(report_id, code)
    assert followed["minutes"] == {
        "status": "signed",
        "text": "Remarques répétées, et une mise à l'écart.",
    }
    types = [e["type"] for e in database.events.find({"stream": f"report-{report_id}"})]
    assert types == [
        "ReportReceived",
        "MinutesDrafted",
        "MinutesShown",
        "MinutesRectified",
        "MinutesShown",
        "MinutesConfirmed",
        "MinutesSigned",
    ]
    signed = database.events.find_one({"type": "MinutesSigned"})
    assert signed["meta"]["actor_role"] == "declarant"


def test_a_letter_is_transcribed_with_its_scan(cluster, database):
    letter = report(received_at="2026-11-20T09:00:00+01:00")
    filed = cluster.intake.transcribe_letter(letter, file("courrier.pdf"), LISTENER)
    stored = database.events.find_one({"stream": f"report-{filed['report_id']}"})
    assert stored["data"]["channel"] == "postal"
    data = opened(database, stored["data"])
    assert [a["filename"] for a in data["attachments"]] == ["courrier.pdf"]
    error = rpc_refusal(
        lambda: cluster.intake.transcribe_letter(letter, {"filename": "x"}, LISTENER)
    )
    assert set(json.loads(error.value)["errors"]) == {"content_type", "content_base64"}


def mail(message_id="<signalement-1@agents.example.org>", body="Je subis des remarques."):
    message = EmailMessage()
    message["From"] = "Agent Anonyme <agent@agents.example.org>"
    message["To"] = "cellule-ecoute@localhost"
    message["Subject"] = "Signalement"
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(body)
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="preuve.pdf")
    return message


def test_mail_is_ingested_once_quarantined_when_malformed_and_acknowledged(
    cluster, database, maildir
):
    inbox = mailbox.Maildir(maildir)
    inbox.add(mail())
    inbox.add(mail())  # the same message delivered twice
    inbox.add(b"this is not an e-mail at all")
    reports = eventually(
        lambda: list(database.events.find({"type": "ReportReceived", "data.channel": "email"}))
    )
    eventually(lambda: not list((maildir / "new").iterdir()))
    assert len(reports) == 1
    assert is_sealed(reports[0]["data"]["declarant"]["email"])
    data = opened(database, reports[0]["data"])
    assert data["declarant"]["email"] == "agent@agents.example.org"
    assert data["source_reference"] == "signalement-1@agents.example.org"
    assert [a["filename"] for a in data["attachments"]] == ["preuve.pdf"]
    assert len(list((maildir / "cur").iterdir())) == 2
    [quarantined] = list((maildir / ".Quarantine" / "new").iterdir())
    assert b"X-Allodiscri-Quarantine-Reason" in quarantined.read_bytes()
    [acknowledgement] = list(mailbox.Maildir(maildir).get_folder("Outbox"))
    assert acknowledgement["To"] == "agent@agents.example.org"
    code = next(
        line.split(": ")[1]
        for line in acknowledgement.get_payload(decode=True).decode().splitlines()
        if line.startswith("Code de suivi")
    )
    followed = cluster.intake.follow_report(data["report_id"], code)
    assert followed["status"] in ("received", "acknowledged")
    case = eventually(lambda: database.cases_view.find_one({"_id": data["report_id"]}))
    assert case["channel"] == "email" and case["kinds"] == []


def test_the_declarant_follows_the_report_with_the_code_and_wrong_codes_lock_it(cluster, database):
    filed = cluster.intake.submit_report(report())
    report_id, code = filed["report_id"], filed["receipt_code"]
    eventually(lambda: database.cases_view.find_one({"_id": report_id}))
    cluster.cases.acknowledge_receipt(report_id, LISTENER, 1)
    cluster.cases.inform_declarant(
        report_id, LISTENER, 2, message="Un entretien vous sera proposé."
    )
    followed = cluster.intake.follow_report(report_id, code.replace(" ", "-"))
    assert followed["status"] == "acknowledged"
    # The id as a UUID however it is written: the same report (a seeded barrage found the
    # upper-case spelling crashing the follow-up).
    assert cluster.intake.follow_report(report_id.upper(), code)["report_id"] == report_id
    assert [m["message"] for m in followed["messages"]] == ["Un entretien vous sera proposé."]
    cluster.intake.add_information(report_id, code, "Un témoin peut confirmer.")
    assert cluster.intake.follow_report(report_id, code)["added"][0]["message"] == (
        "Un témoin peut confirmer."
    )

    wrong = "0000 0000 0000 0000"
    for _ in range(5):
        assert rpc_refusal(lambda: cluster.intake.follow_report(report_id, wrong)).exc_type == (
            "NotFound"
        )
    locked = rpc_refusal(lambda: cluster.intake.follow_report(report_id, code))
    assert locked.exc_type == "Refused" and "too many wrong codes" in locked.value
    retried = cluster.intake.submit_report(
        report(submission_id="3f2b8c1a-0d4e-4f5a-9b6c-7d8e9f0a1b2c")
    )
    again = cluster.intake.submit_report(
        report(submission_id="3f2b8c1a-0d4e-4f5a-9b6c-7d8e9f0a1b2c")
    )
    assert again == {**retried, "receipt_code": None, "already_received": True}
