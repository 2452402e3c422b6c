"""Languages: the translated forms have every text in Lao, Khmer and Vietnamese, the sources and
workbooks agree on them, and adding a language is one command followed by the translations.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from pyxform.xls2xform import convert

from .test_form_library import FORM_IDS, LANGUAGE, itext
from .xform_eval import FORMS_DIR, load_build

build = load_build()
LANGUAGES = ("Lao (lo)", "Khmer (km)", "Vietnamese (vi)")
# The forms translated so far (forms/README.md, "Languages"): every form of the library.
TRANSLATED = {
    "accident_report": LANGUAGES,
    "clearance_report": LANGUAGES,
    "completion_report": LANGUAGES,
    "eod_report": LANGUAGES,
    "eore_session": LANGUAGES,
    "hazard_report": LANGUAGES,
    "survivor_followup": LANGUAGES,
    "survivor_needs_assessment": LANGUAGES,
}
REFERENCE = re.compile(r"\$\{[a-z0-9_]+\}|<output value=\"[^\"]+\"/>")


def sources() -> dict[str, object]:
    return {s.form_id: s for s in build.load_sources()}


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_each_form_has_exactly_its_languages(form_id: str) -> None:
    source = sources()[form_id]
    assert build.languages(source) == [LANGUAGE, *TRANSLATED.get(form_id, ())]
    assert build.missing_translations(source) == []


@pytest.mark.parametrize("form_id", sorted(TRANSLATED))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_is_translated_and_keeps_its_references(form_id: str, language: str) -> None:
    english = itext(form_id)
    other = itext(form_id, language)
    assert set(other) == set(english)
    for key, text in english.items():
        assert other[key].strip(), key
        # ${...} references (compiled to <output/>) must survive translation unchanged.
        assert sorted(REFERENCE.findall(other[key])) == sorted(REFERENCE.findall(text)), key
    if form_id == "eore_session":
        assert other["/data/method:label"] != english["/data/method:label"]


@pytest.mark.parametrize("form_id", sorted(TRANSLATED))
def test_the_workbooks_carry_the_translations_of_the_sources(form_id: str) -> None:
    sheets = build.read_workbook(FORMS_DIR / f"{form_id}.xlsx")
    header = sheets["survey"][0]
    for language in LANGUAGES:
        for base in ("label", "hint", "constraint_message"):
            assert f"{base}::{language}" in header
    assert f"label::{LANGUAGES[0]}" in sheets["choices"][0]


def test_adding_a_language_is_one_command_then_the_translations(tmp_path: Path) -> None:
    source_dir = tmp_path / "src"
    source_dir.mkdir()
    shutil.copy(FORMS_DIR / "src" / "eore_session.md", source_dir)
    (source,) = build.load_sources(source_dir)
    assert build.add_language(source, "Thai (th)")
    assert not build.add_language(source, "Thai (th)")  # already there
    header = source.sheets["survey"][0]
    assert header.index("label::Thai (th)") == header.index("label::Vietnamese (vi)") + 1
    assert "constraint_message::Thai (th)" in header
    assert "label::Thai (th)" in source.sheets["choices"][0]
    missing = build.missing_translations(source)
    assert missing and all("Thai (th)" in line for line in missing)
    assert any("survey row" in line and "(method)" in line for line in missing)
    # Translate every text (here: a marked copy of the English), then it compiles cleanly.
    for sheet in ("survey", "choices"):
        rows = source.sheets[sheet]
        for base in build.TRANSLATED_COLUMNS:
            if f"{base}::Thai (th)" not in rows[0]:
                continue
            e, th = rows[0].index(f"{base}::English (en)"), rows[0].index(f"{base}::Thai (th)")
            for row in rows[1:]:
                row[th] = f"TH {row[e]}" if row[e] else ""
    assert build.missing_translations(source) == []
    (source_dir / "eore_session.md").write_text(build.render_source(source), encoding="utf-8")
    (written,) = build.build(source_dir=source_dir, out_dir=tmp_path)
    warnings: list[str] = []
    xform = convert(xlsform=written, warnings=warnings).xform
    assert warnings == []
    assert 'lang="Thai (th)"' in xform
    assert "TH Method" in xform


def test_a_language_must_be_named_with_its_code() -> None:
    source = sources()["eore_session"]
    with pytest.raises(build.SourceError, match="Name \\(code\\)"):
        build.add_language(source, "Thai")


def test_every_form_of_the_library_is_translated() -> None:
    assert sorted(TRANSLATED) == sorted(FORM_IDS)
