import json
from pathlib import Path

from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.kernel.contracts import EACH
from allodiscri.platform.crypto import is_sealed
from allodiscri.tools.asyncapi import example, sealed_example
from allodiscri.tools.catalogue_doc import render

EVENTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_the_published_catalogue_matches_the_schemas():
    assert EVENTS_DOC.read_text(encoding="utf-8") == render(), (
        "docs/events.md is stale: run `python -m allodiscri.tools.catalogue_doc > docs/events.md`"
    )


def test_every_event_and_field_is_documented():
    text = render()
    for contract in CATALOGUE.contracts():
        assert f"### {contract.type} (v{contract.version})" in text
        for name in contract.schema().fields:
            assert f"| `{name}` |" in text
    assert "| `declarant.email` | sealed e-mail address or null | no |" in text
    assert "| `declarant.perimeter` | string or null | no |" in text
    assert "| `measures` | list of sealed string | yes | 1 to 2000 characters |" in text
    assert "| `attachments[].sha256` | string | yes | matches `^[0-9a-f]{64}$` |" in text


def _at(data, path):
    """The values at a catalogue path (EACH: every item of a list)."""
    if not path:
        return [data]
    if path[0] == EACH:
        return [value for item in data for value in _at(item, path[1:])]
    return _at(data[path[0]], path[1:])


def test_every_event_shows_an_example_as_published_with_its_personal_fields_sealed():
    sections = render().split("\n### ")[1:]
    assert len(sections) == len(CATALOGUE.contracts())
    for contract, section in zip(CATALOGUE.contracts(), sections, strict=True):
        assert section.startswith(f"{contract.type} (v{contract.version})")
        example_json = section.split("Example `data`, as published:\n\n```json\n")[1]
        shown = json.loads(example_json.split("\n```")[0])
        assert shown == sealed_example(contract.schema())
        plain = example(contract.schema())  # what it stands for, which the schema accepts
        assert shown.keys() == plain.keys()
        personal = CATALOGUE.personal_paths(contract.type)
        for path in personal:
            assert all(is_sealed(value) for value in _at(shown, path)), path
        if not personal:
            assert shown == plain


def test_the_workflow_and_permission_tables_match_the_code():
    from allodiscri.tools.docs import DOCS, DOCUMENTS

    for name, render_document in DOCUMENTS.items():
        assert (DOCS / name).read_text(encoding="utf-8") == render_document(), (
            f"docs/{name} is stale: run `python -m allodiscri.tools.docs`"
        )
