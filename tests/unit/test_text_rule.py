"""The one rule for text at the boundary (allodiscri.kernel.boundary.text_problem), and the fields
whose own rules now refuse by name what the store used to refuse by position."""

import pytest

from allodiscri.kernel.boundary import InvalidInput, load, text_problem
from services.intake.attachments import AttachmentRefused, safe_filename
from services.intake.schemas import FileSchema, FollowUpSchema, ReportSubmissionSchema
from tests.helpers import report

PDF_BASE64 = "JVBERi0xLjQ="  # %PDF-1.4


@pytest.mark.parametrize(
    "text",
    [
        "Remarques répétées\n\tdevant l'équipe.\r\n",
        " \u202eمرحبا\u200f",  # right-to-left override, Arabic, right-to-left mark
        "👩\u200d⚖️",  # a zero-width joiner inside an emoji
        "l\x92équipe",  # Windows-1252 read as Latin-1: a C1 control, kept
    ],
)
def test_what_people_write_is_text(text):
    assert text_problem(text) is None


@pytest.mark.parametrize(
    "text, named",
    [
        ("piece.pdf\ud800", "U+D800, a lone surrogate"),
        ("\udfff", "U+DFFF, a lone surrogate"),
        ("a\x00b", "control character U+0000"),
        ("\x1b[2J", "control character U+001B"),
        ("efface\x08\x08", "control character U+0008"),
        ("\x7f", "control character U+007F"),
    ],
)
def test_what_is_not_text_is_refused_saying_why(text, named):
    assert named in text_problem(text)


def test_a_refusal_names_each_field_where_it_is_nested():
    payload = report(
        attachments=[
            {"filename": "piece.pdf\ud800", "content_type": "application/pdf", "content_base64": ""}
        ]
    )
    payload["facts"]["narrative"] = "Les faits\x00"
    with pytest.raises(InvalidInput) as refused:
        load(ReportSubmissionSchema(), payload, "report")
    errors = refused.value.errors
    assert set(errors) == {"attachments", "facts"}
    assert "lone surrogate" in errors["attachments"][0]["filename"][0]
    assert "U+0000" in errors["facts"]["narrative"][0]
    str(refused.value).encode("utf-8")  # echoes no value: it can be sent and logged


def test_the_store_refuses_a_name_it_cannot_build_a_file_id_from():
    with pytest.raises(AttachmentRefused, match="lone surrogate"):
        safe_filename("piece.pdf\ud800")
    assert safe_filename("facture\u202efdp.exe") == "facturefdp.exe"  # format characters go


@pytest.mark.parametrize(
    "file, field",
    [
        ({"filename": "../", "content_type": "application/pdf"}, "filename"),
        ({"filename": "x.pdf", "content_type": "application/x-msdownload"}, "content_type"),
        ({"filename": "x.pdf", "content_type": "application/pdf \u202e"}, "content_type"),
    ],
)
def test_a_file_is_refused_by_the_field_at_fault(file, field):
    with pytest.raises(InvalidInput) as refused:
        load(FileSchema(), {**file, "content_base64": PDF_BASE64}, "scan")
    assert set(refused.value.errors) == {field}


def test_a_receipt_code_is_digits_with_the_separators_people_type():
    code = {"report_id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427"}
    assert load(FollowUpSchema(), {**code, "receipt_code": "0123 4567-8901 2345"}, "follow-up")
    with pytest.raises(InvalidInput) as refused:
        load(FollowUpSchema(), {**code, "receipt_code": "0123 4567 8901 2345 \u202e"}, "x")
    assert set(refused.value.errors) == {"receipt_code"}
