"""E-mail reports from a real Maildir on disk: ingested once per key, filed, never lost."""

import hashlib
import mailbox
import os
import uuid
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest

from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.platform.store import EventStore
from allodiscri.platform.unit_of_work import StoreUnitOfWork
from services.intake import handlers
from services.intake.attachments import AttachmentStore
from services.intake.mail import (
    QUARANTINE_REASON_HEADER,
    MailAttachment,
    MaildirIngest,
    MalformedMail,
    ParsedMail,
    parse_mail,
)
from services.intake.receipts import ReceiptCodes
from tests.helpers import cipher_for, opened

NAMESPACE = uuid.UUID("0b9f3f0e-6f4c-4d8e-9a51-3c1f1f7f2a10")
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def report_mail(message_id: str | None = "<plainte-1@example.org>", **headers) -> bytes:
    message = EmailMessage()
    message["From"] = "Léa Martin <lea.martin@example.org>"
    message["To"] = "cellule-ecoute@example.gouv.fr"
    message["Subject"] = "Signalement : propos sexistes répétés"
    message["Date"] = "Tue, 05 Mar 2024 09:30:00 +0100"
    if message_id is not None:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Bonjour,\nmon responsable tient des propos sexistes depuis mars.\n")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="plainte.pdf")
    return message.as_bytes()


class Intake:
    """Stands for intake: idempotent by key, as the contract asks (one report per key)."""

    def __init__(self, fail_with: BaseException | None = None):
        self.calls: list[ParsedMail] = []
        self.reports: dict[str, str] = {}
        self.fail_with = fail_with

    def __call__(self, parsed: ParsedMail) -> str:
        self.calls.append(parsed)
        report_id = self.reports.setdefault(parsed.key, str(uuid.uuid5(NAMESPACE, parsed.key)))
        if self.fail_with is not None:
            raise self.fail_with
        return report_id


@pytest.fixture
def maildir(tmp_path) -> mailbox.Maildir:
    return mailbox.Maildir(tmp_path / "Maildir", create=True)


def root(maildir: mailbox.Maildir) -> Path:
    return Path(maildir._path)


def names(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def message_files(maildir: mailbox.Maildir) -> int:
    folders = [root(maildir), root(maildir) / ".Quarantine"]
    return sum(
        len(names(folder / sub)) for folder in folders if folder.exists() for sub in ("new", "cur")
    )


def test_a_report_with_a_pdf_is_ingested_and_filed_in_cur_as_seen(maildir):
    raw = report_mail()
    key = maildir.add(raw)
    intake = Intake()
    report = MaildirIngest(root(maildir), intake).run_once()

    [parsed] = intake.calls
    assert parsed == ParsedMail(
        key="plainte-1@example.org",
        sender="lea.martin@example.org",
        sender_name="Léa Martin",
        subject="Signalement : propos sexistes répétés",
        received_at=datetime(2024, 3, 5, 9, 30, tzinfo=timezone(timedelta(hours=1))),
        body="Bonjour,\nmon responsable tient des propos sexistes depuis mars.",
        attachments=[MailAttachment("plainte.pdf", "application/pdf", PDF)],
    )
    assert report.ingested == [("plainte-1@example.org", intake.reports[parsed.key])]
    assert report.quarantined == [] and report.failed == []
    assert names(root(maildir) / "new") == []
    assert names(root(maildir) / "cur") == [f"{key}:2,S"]
    assert (root(maildir) / "cur" / f"{key}:2,S").read_bytes() == raw
    # Seen as mail tools see it: in cur/, flagged seen.
    filed = mailbox.Maildir(root(maildir), create=False).get_message(key)
    assert (filed.get_subdir(), filed.get_flags()) == ("cur", "S")


def test_a_message_delivered_twice_is_handed_twice_under_one_key_and_both_are_filed(maildir):
    maildir.add(report_mail())
    maildir.add(report_mail(Received="from relay.example.org by mx.example.gouv.fr"))
    intake = Intake()
    report = MaildirIngest(root(maildir), intake).run_once()

    assert [parsed.key for parsed in intake.calls] == ["plainte-1@example.org"] * 2
    assert len(intake.reports) == 1
    [report_id] = intake.reports.values()
    assert report.ingested == [("plainte-1@example.org", report_id)] * 2
    assert names(root(maildir) / "new") == []
    assert len(names(root(maildir) / "cur")) == 2


def test_a_crash_after_ingest_hands_the_same_message_again_then_files_it(maildir):
    maildir.add(report_mail())
    intake = Intake(fail_with=SystemExit("killed after the report was recorded"))
    with pytest.raises(SystemExit):
        MaildirIngest(root(maildir), intake).run_once()
    assert len(names(root(maildir) / "new")) == 1

    intake.fail_with = None
    report = MaildirIngest(root(maildir), intake).run_once()
    assert [parsed.key for parsed in intake.calls] == ["plainte-1@example.org"] * 2
    assert report.ingested == [("plainte-1@example.org", intake.reports["plainte-1@example.org"])]
    assert names(root(maildir) / "new") == []


def test_without_message_id_the_key_is_the_sha256_of_the_raw_bytes(maildir):
    raw = report_mail(message_id=None)
    expected = f"sha256:{hashlib.sha256(raw).hexdigest()}"
    assert parse_mail(raw).key == expected
    assert parse_mail(raw).key == expected
    maildir.add(raw)
    intake = Intake()
    MaildirIngest(root(maildir), intake).run_once()
    assert [parsed.key for parsed in intake.calls] == [expected]


@pytest.mark.parametrize(
    "header, key",
    [
        ("<Plainte-1@Example.org>", "Plainte-1@Example.org"),
        ("  <plainte-1@example.org>  ", "plainte-1@example.org"),
        ("plainte-1@example.org", "plainte-1@example.org"),
    ],
)
def test_the_message_id_is_normalised_to_its_bare_form(header, key):
    assert parse_mail(report_mail(message_id=header)).key == key


def test_a_folded_message_id_gives_the_same_key():
    raw = report_mail().replace(b"Message-ID: <", b"Message-ID:\n <")
    assert b"Message-ID:\n <plainte-1@example.org>" in raw
    assert parse_mail(raw).key == "plainte-1@example.org"


@pytest.mark.parametrize(
    "header", [b"", b"no-at-sign", b"<a@b@c>", b"<a b@example.org>", "<é@example.org>".encode()]
)
def test_an_unusable_message_id_falls_back_to_the_hash(header):
    raw = report_mail(message_id="<placeholder@example.org>")
    raw = raw.replace(b"<placeholder@example.org>", header)
    assert header in raw
    assert parse_mail(raw).key == f"sha256:{hashlib.sha256(raw).hexdigest()}"


def test_malformed_messages_are_quarantined_with_their_reason_and_none_is_lost(maildir):
    good = maildir.add(report_mail())
    no_sender = b"Subject: anonyme\nMessage-ID: <x@example.org>\n\nJe veux signaler des faits.\n"
    not_a_mail = b"%PDF-1.4\n\x00\x01 a file dropped in the Maildir by mistake"
    no_sender_name = maildir.add(no_sender)
    not_a_mail_name = maildir.add(not_a_mail)
    assert message_files(maildir) == 3
    intake = Intake()
    report = MaildirIngest(root(maildir), intake).run_once()

    assert [parsed.key for parsed in intake.calls] == ["plainte-1@example.org"]
    reasons = dict(report.quarantined)
    assert reasons == {
        no_sender_name: "no sender address (From)",
        not_a_mail_name: "not an RFC 822 message: no header",
    }
    assert message_files(maildir) == 3
    assert names(root(maildir) / "new") == []
    assert names(root(maildir) / "cur") == [f"{good}:2,S"]
    quarantine = root(maildir) / ".Quarantine"
    assert names(quarantine / "new") == sorted(reasons)
    for name, raw in ((no_sender_name, no_sender), (not_a_mail_name, not_a_mail)):
        copy = (quarantine / "new" / name).read_bytes()
        assert copy == f"{QUARANTINE_REASON_HEADER}: {reasons[name]}\n".encode() + raw
    # A mail tool opening the folder reads the reason as a header.
    folder = mailbox.Maildir(root(maildir), create=False).get_folder("Quarantine")
    assert sorted(message[QUARANTINE_REASON_HEADER] for message in folder) == sorted(
        reasons.values()
    )


def test_ingest_may_refuse_a_message_for_good_and_send_it_to_quarantine(maildir):
    name = maildir.add(report_mail())
    intake = Intake(fail_with=MalformedMail("attachment type application/x-msdownload refused"))
    report = MaildirIngest(root(maildir), intake).run_once()
    assert report.quarantined == [
        ("plainte-1@example.org", "attachment type application/x-msdownload refused")
    ]
    assert report.ingested == []
    assert names(root(maildir) / ".Quarantine" / "new") == [name]
    assert names(root(maildir) / "new") == [] and names(root(maildir) / "cur") == []


def test_a_failing_ingest_leaves_the_message_in_new_for_the_next_run(maildir):
    name = maildir.add(report_mail())
    failing = Intake(fail_with=RuntimeError("event store unreachable"))
    report = MaildirIngest(root(maildir), failing).run_once()
    assert report.failed == [("plainte-1@example.org", "RuntimeError('event store unreachable')")]
    assert report.ingested == [] and report.quarantined == []
    assert names(root(maildir) / "new") == [name]
    assert names(root(maildir) / "cur") == []

    working = Intake()
    report = MaildirIngest(root(maildir), working).run_once()
    assert report.ingested == [("plainte-1@example.org", working.reports["plainte-1@example.org"])]
    assert names(root(maildir) / "new") == []
    assert names(root(maildir) / "cur") == [f"{name}:2,S"]


def test_a_restarted_poller_does_not_read_cur_again(maildir):
    maildir.add(report_mail())
    first = Intake()
    assert len(MaildirIngest(root(maildir), first).run_once().ingested) == 1

    restarted = Intake()
    poller = MaildirIngest(root(maildir), restarted)
    assert poller.run_once().ingested == []
    assert restarted.calls == []
    maildir.add(report_mail(message_id="<plainte-2@example.org>"))
    assert [key for key, _ in poller.run_once().ingested] == ["plainte-2@example.org"]
    assert [parsed.key for parsed in restarted.calls] == ["plainte-2@example.org"]
    assert len(names(root(maildir) / "cur")) == 2


def test_keep_going_stops_a_run_between_messages(maildir):
    for number in range(3):
        maildir.add(report_mail(message_id=f"<plainte-{number}@example.org>"))
    answers = iter([True, False])
    report = MaildirIngest(root(maildir), Intake()).run_once(keep_going=lambda: next(answers))
    assert len(report.ingested) == 1
    assert len(names(root(maildir) / "new")) == 2


def test_a_missing_maildir_is_an_error_not_an_empty_inbox(tmp_path):
    with pytest.raises(mailbox.NoSuchMailboxError):
        MaildirIngest(tmp_path / "absent", Intake())


def test_an_html_only_mail_gives_its_text_without_markup():
    message = EmailMessage()
    message["From"] = "lea@example.org"
    message.set_content(
        "<html><head><style>p {color: red}</style></head><body><p>Bonjour,</p>"
        "<script>track()</script><p>les faits&nbsp;: propos <b>r&eacute;p&eacute;t&eacute;s</b>"
        "<br>depuis mars.</p></body></html>",
        subtype="html",
    )
    parsed = parse_mail(message.as_bytes())
    assert parsed.body == "Bonjour,\n\nles faits : propos répétés\ndepuis mars."
    assert parsed.attachments == []


def test_the_plain_text_is_preferred_and_inline_images_and_forwarded_mails_are_kept():
    message = EmailMessage()
    message["From"] = "lea@example.org"
    message.set_content("Voir la capture.\n")
    message.add_alternative("<p>Voir la capture <img src='cid:capture'></p>", subtype="html")
    png = b"\x89PNG\r\n\x1a\n" + bytes(16)
    message.get_payload()[1].add_related(png, maintype="image", subtype="png", cid="<capture>")
    forwarded = EmailMessage()
    forwarded["From"] = "responsable@example.org"
    forwarded["Subject"] = "Re: réunion"
    forwarded.set_content("Message transféré.\n")
    message.add_attachment(forwarded)
    parsed = parse_mail(message.as_bytes())

    assert parsed.body == "Voir la capture."
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("part-6.png", "image/png"),
        ("part-7.eml", "message/rfc822"),
    ]
    assert parsed.attachments[0].data == png
    assert parse_mail(parsed.attachments[1].data).subject == "Re: réunion"


def test_received_at_is_the_date_header_when_valid():
    assert parse_mail(report_mail()).received_at == datetime(2024, 3, 5, 8, 30, tzinfo=UTC)
    zoneless = report_mail().replace(b"+0100", b"-0000")
    assert parse_mail(zoneless).received_at == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    invalid = report_mail().replace(b"Tue, 05 Mar 2024 09:30:00 +0100", b"hier soir")
    assert parse_mail(invalid).received_at is None
    undated = report_mail().replace(b"Date: Tue, 05 Mar 2024 09:30:00 +0100\n", b"")
    assert b"Date:" not in undated
    assert parse_mail(undated).received_at is None


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", "not an RFC 822 message: no header"),
        (b"just some text\nwithout headers\n", "not an RFC 822 message: no header"),
        (b"Subject: x\n\nbody\n", "no sender address (From)"),
        (b"From: not an address\n\nbody\n", "no sender address (From)"),
        (b"From: a@example.org\n\n  \n", "no text and no attachment"),
        (
            b"From: a@example.org\nContent-Type: text/plain; charset=x-martian\n\nbody\n",
            "unknown charset 'x-martian' in the text",
        ),
        (
            b"From: a@example.org\nContent-Type: text/plain; charset=utf-8\n\ncaf\xe9\n",
            "text is not valid utf-8",
        ),
        (b"From: Jos\xe9 <a@example.org>\n\nbody\n", "a header is not valid UTF-8"),
        (
            b"From: a@example.org\nContent-Type: multipart/mixed\n\nbody\n",
            "unreadable multipart/mixed part: NoBoundaryInMultipartDefect",
        ),
        (
            b'From: a@example.org\nContent-Type: multipart/mixed; boundary="B"\n\nno parts\n',
            "unreadable multipart/mixed part: StartBoundaryNotFoundDefect",
        ),
        (
            b"From: a@example.org\nContent-Transfer-Encoding: base64\n\naGVsbG8gd29yb\n",
            "undecodable text/plain part: InvalidBase64LengthDefect",
        ),
        (
            # The email package itself fails on this parameter (an IndexError).
            b"From: a@example.org\nContent-Disposition: attachment; filename*\n\nbody\n",
            "unreadable message: IndexError(",
        ),
    ],
)
def test_unreadable_messages_are_malformed_with_a_reason(raw, reason):
    with pytest.raises(MalformedMail) as malformed:
        parse_mail(raw)
    assert malformed.value.reason.startswith(reason)
    assert str(malformed.value) == malformed.value.reason  # what a log line shows


def test_undeclared_charset_is_read_as_utf8_and_readable_defects_are_tolerated():
    raw = (
        b'From: a@example.org\nContent-Type: multipart/mixed; boundary="B"\n\n'
        b"--B\nContent-Type: text/plain\n\nd\xc3\xa9tails\n"  # no closing boundary
    )
    assert parse_mail(raw).body == "détails"


def delivered(raw: bytes, relay: str) -> bytes:
    """The message as a mail server files it: its own trace header on top."""
    return (
        f"Received: from {relay} by mx.example.gouv.fr; Tue, 5 Mar 2024 09:31:00 +0100\n".encode()
        + raw
    )


def spelled(raw: bytes, name: bytes) -> bytes:
    assert raw.count(b"Message-ID:") == 1
    return raw.replace(b"Message-ID:", name + b":")


@pytest.mark.parametrize("name", [b"Message-Id", b"message-id", b"MESSAGE-ID", b"Message-ID"])
def test_the_message_id_header_is_found_however_its_name_is_cased(name):
    """Header names are case-insensitive (RFC 5322) and many mailers write "Message-Id": two
    deliveries of one message must share its Message-ID as key, not two hashes of their bytes."""
    raw = spelled(report_mail(), name)
    first = parse_mail(delivered(raw, "relay-1.example.org"))
    second = parse_mail(delivered(raw, "relay-2.example.org"))
    assert first.key == second.key == "plainte-1@example.org"


@pytest.fixture
def intake_service(database):
    """Intake as the service runs it: sealed event store, GridFS attachments, receipt codes."""
    cipher = cipher_for(database)
    store = EventStore(database, upcaster=CATALOGUE.upcast, cipher=cipher)
    store.ensure_indexes()
    return handlers.Intake(
        StoreUnitOfWork(store, cipher.keys, "intake", "intake.ingest_mail", "test-mail"),
        AttachmentStore(database, cipher.keys),
        ReceiptCodes(database),
    )


@pytest.mark.parametrize("name", [b"Message-Id", b"message-id"])
def test_one_mail_delivered_twice_through_two_relays_is_filed_as_one_report(
    maildir, database, intake_service, name
):
    """Each relay adds its own Received header, so the bytes differ; the report must still be
    filed once, with one acknowledgement, and both copies end up seen in cur/."""
    raw = spelled(report_mail(), name)
    maildir.add(delivered(raw, "relay-1.example.org"))
    maildir.add(delivered(raw, "relay-2.example.org"))
    outbox = maildir.add_folder("Outbox")
    poller = MaildirIngest(
        root(maildir),
        lambda parsed: handlers.ingest_mail(
            intake_service, parsed, "SG", outbox, "cellule-ecoute@example.gouv.fr"
        ),
    )
    report = poller.run_once()

    reports = list(database.events.find({"type": "ReportReceived"}))
    assert len(reports) == 1, "the same mail was filed as several reports"
    [received] = reports
    assert opened(database, received["data"])["source_reference"] == "plainte-1@example.org"
    assert report.ingested == [("plainte-1@example.org", received["data"]["report_id"])] * 2
    assert len(outbox) == 1
    assert names(root(maildir) / "new") == [] and len(names(root(maildir) / "cur")) == 2


def test_text_inside_nested_hidden_elements_stays_hidden_and_blank_lines_are_collapsed():
    """A title inside the head, a style inside a template: closing the inner element must not
    reveal what is left of the outer one; nested blocks give one blank line, not several."""
    message = EmailMessage()
    message["From"] = "lea@example.org"
    message.set_content(
        "<html><head><title>Titre</title>meta cachée</head>"
        "<body><template><style>p {}</style>gabarit caché</template>"
        "<div><div><p>Premier fait.</p></div></div><div><p>Second fait.</p></div></body></html>",
        subtype="html",
    )
    assert parse_mail(message.as_bytes()).body == "Premier fait.\n\nSecond fait."


def write_in_new(maildir: mailbox.Maildir, name: str, raw: bytes) -> None:
    """The file exactly as delivered (mailbox's own `add` may rewrite line ends)."""
    (root(maildir) / "new" / name).write_bytes(raw)


@pytest.mark.parametrize(
    "raw, newline",
    [
        (b"just text\r\nwithout headers\r\n", b"\r\n"),
        (b"\r\njust text after a blank line\r\n", b"\r\n"),
        (b"just text\nthen a line ended otherwise\r\n", b"\n"),  # the first line decides
        (b"\njust text after a blank line, ending in a CR\r", b"\n"),
        (b"no line end at all", b"\n"),
    ],
)
def test_the_quarantine_header_ends_like_the_message_s_first_line(maildir, raw, newline):
    """A mail tool reads the added header only if its line ends as the message's own lines do:
    CRLF after a first line ending in CRLF, LF otherwise."""
    write_in_new(maildir, "1700000000.M1P1.host", raw)
    report = MaildirIngest(root(maildir), Intake()).run_once()
    assert report.quarantined == [("1700000000.M1P1.host", "not an RFC 822 message: no header")]
    copy = (root(maildir) / ".Quarantine" / "new" / "1700000000.M1P1.host").read_bytes()
    assert copy == (
        b"X-Allodiscri-Quarantine-Reason: not an RFC 822 message: no header" + newline + raw
    )


def test_a_reason_is_written_as_one_ascii_header_line_of_at_most_900_characters(maildir):
    """RFC 5322 headers are ASCII lines of at most 998 octets: a reason in French, over several
    lines or very long, is escaped, joined and cut rather than breaking the quarantined file."""
    name = maildir.add(report_mail())
    reason = "pièce jointe\nrefusée : " + "x" * 1000
    report = MaildirIngest(root(maildir), Intake(fail_with=MalformedMail(reason))).run_once()
    assert report.quarantined == [("plainte-1@example.org", reason)]
    copy = (root(maildir) / ".Quarantine" / "new" / name).read_bytes()
    header = copy.split(b"\n", 1)[0].decode("ascii")
    value = "pi\\xe8ce jointe refus\\xe9e : " + "x" * 871
    assert len(value) == 900
    assert header == f"X-Allodiscri-Quarantine-Reason: {value}"


def test_a_message_quarantined_meanwhile_by_another_poller_is_quarantined_once(maildir):
    """Two pollers may refuse the same message; the one that finds the original already gone
    still finishes its run, and the quarantine holds one copy."""
    name = maildir.add(report_mail())
    original = root(maildir) / "new" / name

    def refused_while_another_poller_filed_it(parsed: ParsedMail) -> str:
        os.remove(original)  # the other poller's quarantine took it from new/
        raise MalformedMail("attachment type application/x-msdownload refused")

    report = MaildirIngest(root(maildir), refused_while_another_poller_filed_it).run_once()
    assert report.quarantined == [
        ("plainte-1@example.org", "attachment type application/x-msdownload refused")
    ]
    assert names(root(maildir) / ".Quarantine" / "new") == [name]
    assert names(root(maildir) / "new") == []


def test_a_quarantined_mail_is_logged_with_its_reason_maildir_and_file(maildir, caplog):
    """The operator learns from the log that a person must look at the quarantine, and where."""
    name = maildir.add(b"Subject: anonyme\n\nJe veux signaler des faits.\n")
    with caplog.at_level("WARNING", logger="services.intake.mail"):
        MaildirIngest(root(maildir), Intake()).run_once()
    [record] = [r for r in caplog.records if r.name == "services.intake.mail"]
    assert record.getMessage() == "mail quarantined: no sender address (From)"
    assert (record.maildir, record.file) == (str(root(maildir)), name)


def test_a_second_inline_text_and_an_unnamed_part_of_unknown_type_are_kept_as_attachments():
    """Only the body and its other renderings are left out: a second text the sender wrote is
    kept, and a part without a name is named after its place, ".bin" for an unknown type."""
    message = EmailMessage()
    message["From"] = "lea@example.org"
    message.set_content("Le corps.\n")
    message.add_attachment("Une seconde note en ligne.\n", disposition="inline")
    message.add_attachment(b"\x00\x01data", maintype="application", subtype="x-inconnu")
    parsed = parse_mail(message.as_bytes())
    assert parsed.body == "Le corps."
    assert parsed.attachments == [
        MailAttachment("part-3.txt", "text/plain", b"Une seconde note en ligne.\n"),
        MailAttachment("part-4.bin", "application/x-inconnu", b"\x00\x01data"),
    ]


def test_without_a_usable_from_the_sender_header_names_the_declarant():
    """RFC 5322 lets a message say who sent it in Sender when From names no mailbox."""
    raw = b"From: undisclosed-recipients:;\nSender: Lea Martin <lea@example.org>\n\nFaits.\n"
    parsed = parse_mail(raw)
    assert (parsed.sender, parsed.sender_name) == ("lea@example.org", "Lea Martin")
    assert parsed.subject == ""  # none was given


def test_raw_utf8_headers_are_read_as_written():
    """RFC 6532 allows UTF-8 in headers without encoded words; many mailers send it so."""
    raw = "From: José Martin <jose@example.org>\nSubject: Propos répétés\n\nFaits.\n".encode()
    parsed = parse_mail(raw)
    assert (parsed.sender_name, parsed.subject) == ("José Martin", "Propos répétés")


def test_dot_files_in_new_are_not_messages_and_are_left_alone(maildir):
    """Mail servers and tools leave dot files (locks, indexes) beside the messages."""
    (root(maildir) / "new" / ".dovecot.lock").write_bytes(b"lock")
    name = maildir.add(report_mail())
    report = MaildirIngest(root(maildir), Intake()).run_once()
    assert [key for key, _ in report.ingested] == ["plainte-1@example.org"]
    assert report.quarantined == [] and report.failed == []
    assert names(root(maildir) / "new") == [".dovecot.lock"]
    assert names(root(maildir) / "cur") == [f"{name}:2,S"]


@pytest.mark.parametrize(
    "delivered_as, filed_as",
    [
        ("1700000000.M1P1.host:2,F", "1700000000.M1P1.host:2,FS"),
        ("1700000000.M1P1.host:2,RF", "1700000000.M1P1.host:2,FRS"),
        ("1700000000.M1P1.host:1,experimental", "1700000000.M1P1.host:2,S"),
    ],
)
def test_flags_a_message_was_delivered_with_are_kept_when_it_is_filed_as_seen(
    maildir, delivered_as, filed_as
):
    """Flags ("2," info) set by the mail server or a person are kept, in the alphabetical order
    Maildir asks for, with S added; any other info is not a list of flags."""
    write_in_new(maildir, delivered_as, report_mail())
    report = MaildirIngest(root(maildir), Intake()).run_once()
    assert [key for key, _ in report.ingested] == ["plainte-1@example.org"]
    assert names(root(maildir) / "cur") == [filed_as]


def test_a_message_filed_meanwhile_by_another_poller_counts_as_ingested(maildir):
    """Two pollers may ingest the same message (idempotent by key); the one that finds it
    already moved to cur/ by the other still finishes its run."""
    name = maildir.add(report_mail())
    intake = Intake()

    def ingested_while_another_poller_filed_it(parsed: ParsedMail) -> str:
        os.rename(root(maildir) / "new" / name, root(maildir) / "cur" / f"{name}:2,S")
        return intake(parsed)

    report = MaildirIngest(root(maildir), ingested_while_another_poller_filed_it).run_once()
    assert report.ingested == [("plainte-1@example.org", intake.reports["plainte-1@example.org"])]
    assert names(root(maildir) / "cur") == [f"{name}:2,S"]


def test_a_failed_ingest_is_logged_with_the_error_maildir_file_and_trace(maildir, caplog):
    """The operator learns why a message stays in new/, and where it is."""
    name = maildir.add(report_mail())
    failing = Intake(fail_with=RuntimeError("event store unreachable"))
    with caplog.at_level("ERROR", logger="services.intake.mail"):
        MaildirIngest(root(maildir), failing).run_once()
    [record] = [r for r in caplog.records if r.name == "services.intake.mail"]
    assert record.getMessage() == (
        "ingest failed for mail plainte-1@example.org, left in new/: "
        "RuntimeError('event store unreachable')"
    )
    assert (record.maildir, record.file) == (str(root(maildir)), name)
    assert "RuntimeError: event store unreachable" in record.trace


def test_a_text_that_is_not_the_body_of_a_mail_without_body_is_kept_as_an_attachment():
    """A related multipart whose root is an image has no body to read; its HTML part is not a
    rendering of a body either, so it is kept rather than the message being refused."""
    raw = (
        b'From: lea@example.org\nContent-Type: multipart/related; boundary="B"\n\n'
        b"--B\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
        b"--B\nContent-Type: text/html; charset=utf-8\n\n<p>Voir la capture.</p>\n--B--\n"
    )
    parsed = parse_mail(raw)
    assert parsed.body == ""
    assert parsed.attachments == [
        MailAttachment("part-2.png", "image/png", b"\x89PNG\r\n\x1a\n"),
        MailAttachment("part-3.html", "text/html", b"<p>Voir la capture.</p>"),
    ]
