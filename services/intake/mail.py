"""E-mail reports from a Maildir: parsed, handed to intake, then filed where none is lost.

A message in `new/` is parsed and handed to `ingest`; once `ingest` returns it is renamed into
`cur/` as seen. A crash between the two hands the same message again on the next run, and the
same message delivered twice is handed twice: both times with the same `ParsedMail.key`, so
`ingest` must be idempotent by that key (e.g. derive the report's submission id from it). A
message that cannot be read goes, bytes untouched, into the `.Quarantine` folder with the reason
in a header on top. A message whose `ingest` fails for any other reason stays in `new/` and is
tried again on the next run, so `ingest` raises MalformedMail for what will never be accepted.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import logging
import mailbox
import mimetypes
import os
import re
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import errors
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

log = logging.getLogger(__name__)

QUARANTINE_FOLDER = "Quarantine"
QUARANTINE_REASON_HEADER = "X-Allodiscri-Quarantine-Reason"
SEEN_FLAG = "S"

# After these the parser has not found the parts the sender wrote, or cannot decode one.
UNREADABLE_DEFECTS = (
    errors.NoBoundaryInMultipartDefect,
    errors.StartBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
    errors.InvalidBase64LengthDefect,
)
# The email package reports most damage as defects, but some hostile input still makes it raise.
PARSER_ERRORS = (
    ValueError,
    LookupError,
    IndexError,
    TypeError,
    AttributeError,
    errors.MessageError,
)
# Message-ID is ASCII: id-left "@" id-right, without the angle brackets.
_MESSAGE_ID = re.compile(r"\s*<?\s*([!-;=?A-~]+@[!-;=?A-~]+)\s*>?\s*")


class MalformedMail(Exception):
    """The message cannot become a report as it is: it goes to quarantine for a person to see."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedMail:
    key: str
    sender: str
    sender_name: str | None
    subject: str
    received_at: datetime | None
    body: str
    attachments: list[MailAttachment]


def parse_mail(raw: bytes) -> ParsedMail:
    """One message, or MalformedMail saying why it cannot be read.

    `key` is the Message-ID without its angle brackets; without a usable one it is the SHA-256
    of the raw bytes, stable for these bytes (a copy delivered again with other trace headers
    gets another key).
    """
    try:
        return _parse(raw)
    except MalformedMail:
        raise
    except PARSER_ERRORS as error:
        raise MalformedMail(f"unreadable message: {error!r}") from error


def _parse(raw: bytes) -> ParsedMail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not message.keys():
        raise MalformedMail("not an RFC 822 message: no header")
    parts = list(_walk(message))
    for part, _ in parts:
        for defect in part.defects:
            if isinstance(defect, UNREADABLE_DEFECTS):
                raise MalformedMail(
                    f"unreadable {part.get_content_type()} part: {type(defect).__name__}"
                )
    sender, sender_name = _sender(message)
    body_part = message.get_body(preferencelist=("plain", "html"))
    body = ""
    if body_part is not None:
        body = _text(body_part)
        if body_part.get_content_subtype() == "html":
            body = html_to_text(body)
        body = body.strip()
    attachments = _attachments(parts, body_part)
    if not body and not attachments:
        raise MalformedMail("no text and no attachment")
    return ParsedMail(
        key=_key(message, raw),
        sender=sender,
        sender_name=sender_name,
        subject=_unescaped(str(message["Subject"] or "")).strip(),
        received_at=_received_at(message),
        body=body,
        attachments=attachments,
    )


def _walk(
    part: EmailMessage, ancestors: tuple[EmailMessage, ...] = ()
) -> Iterator[tuple[EmailMessage, tuple[EmailMessage, ...]]]:
    # Every part with the multiparts around it; an attached message is one part, kept whole.
    yield part, ancestors
    if part.get_content_maintype() == "multipart" and part.is_multipart():
        for child in part.get_payload():
            yield from _walk(child, (*ancestors, part))


def _key(message: EmailMessage, raw: bytes) -> str:
    # The value as written: the header parser "repairs" some ("<a@b@c>" reads "<a@b>").
    written = next((v for n, v in message.raw_items() if n.lower() == "message-id"), "")
    match = _MESSAGE_ID.fullmatch(written)
    return match.group(1) if match else f"sha256:{hashlib.sha256(raw).hexdigest()}"


def _sender(message: EmailMessage) -> tuple[str, str | None]:
    for header_name in ("From", "Sender"):
        header = message[header_name]
        for address in header.addresses if header is not None else ():
            if address.username and address.domain:
                name = _unescaped(address.display_name).strip()
                return _unescaped(address.addr_spec), name or None
    raise MalformedMail("no sender address (From)")


def _received_at(message: EmailMessage) -> datetime | None:
    # The Date the sender's software wrote; a zone-less date (-0000) is taken as UTC.
    try:
        header = message["Date"]
        sent = header.datetime if header is not None else None
    except (ValueError, TypeError, OverflowError):
        return None
    if sent is None:
        return None
    return sent if sent.tzinfo is not None else sent.replace(tzinfo=UTC)


def _attachments(
    parts: list[tuple[EmailMessage, tuple[EmailMessage, ...]]], body_part: EmailMessage | None
) -> list[MailAttachment]:
    """Every leaf part but the body and the body's other renderings (its text/html twin).

    Any other inline text is kept as an attachment rather than dropped.
    """
    body_alternatives: set[int] = set()
    for part, ancestors in parts:
        if part is body_part:
            body_alternatives = {
                id(a) for a in ancestors if a.get_content_type() == "multipart/alternative"
            }
    attachments = []
    for number, (part, ancestors) in enumerate(parts, start=1):
        if part is body_part or part.get_content_maintype() == "multipart":
            continue
        content_type = part.get_content_type()
        filename = _unescaped(part.get_filename() or "")
        is_rendering = (
            content_type in {"text/plain", "text/html"}
            and not part.is_attachment()
            and not filename
            and any(id(ancestor) in body_alternatives for ancestor in ancestors)
        )
        if is_rendering:
            continue
        if not filename:
            filename = f"part-{number}{mimetypes.guess_extension(content_type) or '.bin'}"
        attachments.append(MailAttachment(filename, content_type, _content(part)))
    return attachments


def _content(part: EmailMessage) -> bytes:
    if part.get_content_type() == "message/rfc822":
        return part.get_payload(0).as_bytes()
    data = part.get_payload(decode=True)
    for defect in part.defects:
        if isinstance(defect, UNREADABLE_DEFECTS):
            raise MalformedMail(
                f"undecodable {part.get_content_type()} part: {type(defect).__name__}"
            )
    return data


def _text(part: EmailMessage) -> str:
    # Strict decoding: a testimony with characters silently replaced is not what was written.
    charset = part.get_content_charset() or "utf-8"
    data = _content(part)
    try:
        return data.decode(charset)
    except LookupError:
        raise MalformedMail(f"unknown charset {charset!r} in the text") from None
    except UnicodeDecodeError as error:
        raise MalformedMail(f"text is not valid {charset}: {error.reason}") from None


def _unescaped(value: str) -> str:
    # Raw 8-bit header bytes come back as surrogates; RFC 6532 says they are UTF-8.
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        raise MalformedMail("a header is not valid UTF-8") from None


class _TextOfHtml(HTMLParser):
    BLOCKS = frozenset(
        {"address", "article", "blockquote", "br", "dd", "div", "dl", "dt", "footer", "h1", "h2"}
        | {"h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table"}
        | {"td", "th", "tr", "ul"}
    )
    HIDDEN = frozenset({"head", "script", "style", "template", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.chunks.append(data)


def html_to_text(html: str) -> str:
    """Rough text of an HTML body: words and line breaks, no markup, scripts or styles."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.chunks).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@dataclass
class IngestReport:
    """What one run did: (key, ingest's result), (key or file name, reason), (key, error)."""

    ingested: list[tuple[str, str]] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


class MaildirIngest:
    """Polls one Maildir's `new/`; `cur/` is never read again, so a restart resumes there.

    Moves are renames within the Maildir, atomic and byte-preserving (mailbox's own
    `__setitem__` rewrites the file and has a moment where the message is only in `tmp/`).
    Two pollers on one Maildir only cost duplicate `ingest` calls, which idempotence absorbs.
    """

    def __init__(self, maildir_path: str | os.PathLike, ingest: Callable[[ParsedMail], str]):
        self.maildir = mailbox.Maildir(maildir_path, factory=None, create=False)
        self.path = Path(maildir_path)
        self.ingest = ingest

    def run_once(self, keep_going: Callable[[], bool] = lambda: True) -> IngestReport:
        """Handle every message now in `new/`, oldest first; `keep_going` is asked before each."""
        report = IngestReport()
        for name in self._waiting():
            if not keep_going():
                break
            self._handle(name, report)
        return report

    def _waiting(self) -> list[str]:
        # Maildir file names start with the delivery time; dot files are not messages.
        with os.scandir(self.path / "new") as entries:
            return sorted(e.name for e in entries if e.is_file() and not e.name.startswith("."))

    def _handle(self, name: str, report: IngestReport) -> None:
        try:
            raw = (self.path / "new" / name).read_bytes()
        except FileNotFoundError:
            return  # filed meanwhile by another poller
        try:
            parsed = parse_mail(raw)
        except MalformedMail as malformed:
            self._quarantine(name, raw, malformed.reason)
            report.quarantined.append((name, malformed.reason))
            return
        try:
            result = self.ingest(parsed)
        except MalformedMail as refused:
            self._quarantine(name, raw, refused.reason)
            report.quarantined.append((parsed.key, refused.reason))
            return
        except Exception as error:
            log.error(
                f"ingest failed for mail {parsed.key}, left in new/: {error!r}",
                extra={"maildir": str(self.path), "file": name, "trace": traceback.format_exc()},
            )
            report.failed.append((parsed.key, repr(error)))
            return
        self._mark_seen(name)
        report.ingested.append((parsed.key, result))

    def _mark_seen(self, name: str) -> None:
        unique, _, info = name.partition(self.maildir.colon)
        flags = set(info[2:]) if info.startswith("2,") else set()
        seen = f"{unique}{self.maildir.colon}2,{''.join(sorted(flags | {SEEN_FLAG}))}"
        with contextlib.suppress(FileNotFoundError):  # filed meanwhile by another poller
            os.rename(self.path / "new" / name, self.path / "cur" / seen)

    def _quarantine(self, name: str, raw: bytes, reason: str) -> None:
        """Put the original bytes, under one added header line, in `.Quarantine/new/`.

        The copy is made durable before the original goes; a crash in between only writes the
        same quarantined file again on the next run.
        """
        self.maildir.add_folder(QUARANTINE_FOLDER)
        folder = self.path / f".{QUARANTINE_FOLDER}"
        unique = name.partition(self.maildir.colon)[0]
        first_line_end = raw.find(b"\n")
        newline = b"\r\n" if first_line_end > 0 and raw[first_line_end - 1] == 0x0D else b"\n"
        header = f"{QUARANTINE_REASON_HEADER}: {_header_safe(reason)}".encode() + newline
        staged = folder / "tmp" / unique
        with open(staged, "wb") as file:
            file.write(header + raw)
            file.flush()
            os.fsync(file.fileno())
        os.rename(staged, folder / "new" / unique)
        _fsync_directory(folder / "new")
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path / "new" / name)
        log.warning(f"mail quarantined: {reason}", extra={"maildir": str(self.path), "file": name})


def _header_safe(reason: str) -> str:
    # One ASCII line within the 998-octet limit of RFC 5322.
    one_line = " ".join(reason.split())
    return one_line.encode("ascii", "backslashreplace").decode("ascii")[:900]


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
