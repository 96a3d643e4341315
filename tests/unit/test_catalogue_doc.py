import json
from pathlib import Path

from allodiscri.asyncapi import example
from allodiscri.catalogue import CATALOGUE
from allodiscri.catalogue_doc import render

EVENTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_the_published_catalogue_matches_the_schemas():
    assert EVENTS_DOC.read_text(encoding="utf-8") == render(), (
        "docs/events.md is stale: run `python -m allodiscri.catalogue_doc > docs/events.md`"
    )


def test_every_event_and_field_is_documented():
    text = render()
    for contract in CATALOGUE.contracts():
        assert f"### {contract.type} (v{contract.version})" in text
        for name in contract.schema().fields:
            assert f"| `{name}` |" in text
    assert "| `declarant.email` | e-mail address or null | no |" in text
    assert "| `attachments[].sha256` | string | yes | matches `^[0-9a-f]{64}$` |" in text


def test_every_event_shows_an_example_its_schema_accepts():
    sections = render().split("\n### ")[1:]
    assert len(sections) == len(CATALOGUE.contracts())
    for contract, section in zip(CATALOGUE.contracts(), sections, strict=True):
        assert section.startswith(f"{contract.type} (v{contract.version})")
        shown = json.loads(section.split("Example `data`:\n\n```json\n")[1].split("\n```")[0])
        assert shown == example(contract.schema())
        contract.schema().load(shown)  # raises if the example is not valid


def test_the_workflow_and_permission_tables_match_the_code():
    from services.docs import DOCS, DOCUMENTS

    for name, render_document in DOCUMENTS.items():
        assert (DOCS / name).read_text(encoding="utf-8") == render_document(), (
            f"docs/{name} is stale: run `python -m services.docs`"
        )
