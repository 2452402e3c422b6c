"""Which fields are personal comes from each form version: the `pii_` prefix, an XLSForm column
`fieldsync::personal` (which pyxform alone drops, so the compiler carries it into the binds), or
`bind::fieldsync:personal` (which pyxform passes through)."""

from __future__ import annotations

import io

import openpyxl

from server.forms.compile import compile_upload
from server.personal.fields import personal_answers, personal_paths, redact_xml


def workbook(version: str, marked: bool) -> bytes:
    book = openpyxl.Workbook()
    survey = book.active
    assert survey is not None
    survey.title = "survey"
    survey.append(["type", "name", "label", "fieldsync::personal", "bind::fieldsync:personal"])
    survey.append(["text", "village", "Village", "", ""])
    survey.append(["text", "pii_phone", "Phone", "", ""])
    survey.append(["begin_group", "care", "Care", "", ""])
    survey.append(["text", "injury", "Injury", "yes" if marked else "", ""])
    survey.append(["image", "signature", "Consent signature", "", "yes" if marked else ""])
    survey.append(["end_group", "", "", "", ""])
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version", "namespaces"])
    settings.append(["visit", version, 'fieldsync="urn:fieldsync:xforms"'])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_each_version_says_which_of_its_fields_are_personal() -> None:
    first = compile_upload("visit.xlsx", workbook("1", marked=False))
    second = compile_upload("visit.xlsx", workbook("2", marked=True))
    assert personal_paths(first.xml) == {"/pii_phone"}
    assert personal_paths(second.xml) == {"/pii_phone", "/care/injury", "/care/signature"}
    assert 'fieldsync:personal="yes"' in second.xml


def test_personal_answers_are_emptied_and_the_rest_kept() -> None:
    paths = frozenset({"/care/injury", "/care/signature"})
    xml = (
        '<data id="visit"><village>Ban Na</village><pii_phone>020 555</pii_phone>'
        "<care><injury>burns</injury><signature>sig.png</signature></care>"
        "<meta><instanceID>uuid:1</instanceID></meta></data>"
    )
    cleaned = redact_xml(xml, paths)
    assert "Ban Na" in cleaned and "uuid:1" in cleaned
    assert "020 555" not in cleaned and "burns" not in cleaned and "sig.png" not in cleaned
    assert "<injury/>" in cleaned and "<pii_phone/>" in cleaned
    assert personal_answers(xml, paths) == {"020 555", "burns", "sig.png"}
    assert redact_xml(cleaned, paths) == cleaned
