"""The readable sources (forms/src/*.md) and the committed workbooks (forms/*.xlsx) agree.

The workbooks are what people open in Excel and upload; the sources are what reviewers read in a
diff. forms/build.py turns one into the other in both directions.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import openpyxl
import pytest

from .xform_eval import FORMS_DIR, load_build

build = load_build()
SOURCES = sorted((FORMS_DIR / "src").glob("*.md"))


def test_every_workbook_has_a_source_and_back() -> None:
    assert [p.stem for p in SOURCES] == sorted(p.stem for p in FORMS_DIR.glob("*.xlsx"))


def test_building_from_the_sources_gives_the_committed_workbooks(tmp_path: Path) -> None:
    written = build.build(out_dir=tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in FORMS_DIR.glob("*.xlsx"))
    for generated in written:
        committed = build.read_workbook(FORMS_DIR / generated.name)
        assert build.read_workbook(generated) == committed, generated.name
    # A second build finds every workbook up to date and rewrites nothing.
    assert build.build(out_dir=tmp_path) == []


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_extracting_a_committed_workbook_gives_its_source(source: Path, tmp_path: Path) -> None:
    source_dir = tmp_path / "src"
    source_dir.mkdir()
    shutil.copy(source, source_dir / source.name)
    workbook = shutil.copy(FORMS_DIR / f"{source.stem}.xlsx", tmp_path)
    extracted = build.extract(Path(workbook), source_dir=source_dir)
    assert extracted.read_text(encoding="utf-8") == source.read_text(encoding="utf-8")


def test_a_workbook_edited_in_a_spreadsheet_is_read_back_as_text(tmp_path: Path) -> None:
    # Spreadsheets store a retyped version or default as a number; the source keeps text.
    path = tmp_path / "eore_session.xlsx"
    shutil.copy(FORMS_DIR / "eore_session.xlsx", path)
    workbook = openpyxl.load_workbook(path)
    settings = workbook["settings"]
    version_column = [c.value for c in settings[1]].index("version") + 1
    settings.cell(row=2, column=version_column, value=2026120101)
    survey = workbook["survey"]
    survey.append(["integer", "facilitators", "Number of facilitators", None, None, None, 1.0])
    workbook.save(path)

    sheets = build.read_workbook(path)
    assert sheets["settings"][1][version_column - 1] == "2026120101"
    header = sheets["survey"][0]
    assert sheets["survey"][-1][:3] == ["integer", "facilitators", "Number of facilitators"]
    assert sheets["survey"][-1][6] == "1"
    assert len(sheets["survey"][-1]) == len(header)


def test_cells_with_pipes_and_line_breaks_survive_a_round_trip() -> None:
    rows = [["type", "name", "label::English (en)"], ["note", "n", "a | b\nsecond line"]]
    source = build.FormSource(form_id="f", preamble="# F", sheets={"survey": rows})
    text = build.render_source(source)
    assert "a \\| b<br>second line" in text
    assert build.parse_source(text, "f").sheets == {"survey": rows}


def test_a_malformed_source_is_refused() -> None:
    text = "# F\n\n## survey\n\n| type | name |\n|---|---|\n| text | a | extra |\n"
    with pytest.raises(build.SourceError, match="3 cells, header has 2"):
        build.parse_source(text, "f")
    with pytest.raises(build.SourceError, match="appears twice"):
        build.parse_source("## survey\n## survey\n", "f")


def test_a_source_must_be_named_after_its_form_id(tmp_path: Path) -> None:
    source = (FORMS_DIR / "src" / "eore_session.md").read_text(encoding="utf-8")
    (tmp_path / "eore.md").write_text(source, encoding="utf-8")
    with pytest.raises(build.SourceError, match="expected 'eore'"):
        build.load_sources(tmp_path)


def test_a_spreadsheet_edit_not_read_back_is_not_overwritten(tmp_path: Path) -> None:
    source_dir = tmp_path / "src"
    source_dir.mkdir()
    source = shutil.copy(FORMS_DIR / "src" / "eore_session.md", source_dir)
    workbook_path = tmp_path / "eore_session.xlsx"
    shutil.copy(FORMS_DIR / "eore_session.xlsx", workbook_path)
    workbook = openpyxl.load_workbook(workbook_path)
    workbook["survey"].append(["text", "trainer", "Trainer"])
    workbook.save(workbook_path)
    source_time = Path(source).stat().st_mtime
    os.utime(workbook_path, (source_time + 60, source_time + 60))

    with pytest.raises(build.SourceError, match="--extract"):
        build.build(source_dir=source_dir, out_dir=tmp_path)
    assert build.read_workbook(workbook_path)["survey"][-1][:3] == ["text", "trainer", "Trainer"]

    build.extract(workbook_path, source_dir=source_dir)
    assert "| text | trainer | Trainer |" in Path(source).read_text(encoding="utf-8")
    assert build.build(source_dir=source_dir, out_dir=tmp_path) == []
