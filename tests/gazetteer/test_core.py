"""Reading and checking gazetteer files (pure functions, no database)."""

from __future__ import annotations

import io

import openpyxl
import pytest

from server.gazetteer import core
from server.gazetteer.core import GazetteerError

HEADER = "admin_level,pcode,parent_pcode,name_en,name_lo\n"


def parse(text: str) -> list[core.AdminArea]:
    return core.parse_areas(core.read_table("test.csv", text.encode("utf-8")))


def test_the_bundled_lao_gazetteer_has_18_provinces_and_their_districts() -> None:
    areas = core.load_file(core.BUNDLED_GAZETTEER)
    provinces = [a for a in areas if a.level == 1]
    districts = [a for a in areas if a.level == 2]
    assert [p.pcode for p in provinces] == [f"LA{n:02d}" for n in range(1, 19)]
    assert len(districts) == 148
    by_code = {a.pcode: a for a in areas}
    assert by_code["LA01"].name_en == "Vientiane Capital"
    assert by_code["LA0101"].name_en == "Chanthabuly"
    assert by_code["LA0101"].parent_pcode == "LA01"
    assert by_code["LA09"].name_local == "ຊຽງຂວາງ"
    assert all(d.pcode.startswith(d.parent_pcode) and len(d.pcode) == 6 for d in districts)
    assert all(a.name_local for a in areas)


def test_the_committed_media_file_is_the_one_the_server_sends() -> None:
    areas = core.load_file(core.BUNDLED_GAZETTEER)
    media = core.BUNDLED_GAZETTEER.parent / core.MEDIA_NAME
    assert media.read_text(encoding="utf-8") == core.device_csv(areas)
    header, first = core.device_csv(areas).splitlines()[:2]
    assert header == "name,label,level,parent,name_en,name_local"
    assert first == "LA01,Vientiane Capital (ນະຄອນຫລວງວຽງຈັນ),1,,Vientiane Capital,ນະຄອນຫລວງວຽງຈັນ"


def test_a_duplicate_p_code_is_refused_with_its_row() -> None:
    text = HEADER + "1,LA01,,Vientiane Capital,\n1,LA02,,Phongsaly,\n1,LA01,,Again,\n"
    with pytest.raises(
        GazetteerError, match=r"row 4: P-code LA01 appears twice \(first in row 2\)"
    ):
        parse(text)


def test_a_missing_parent_is_refused_with_its_row() -> None:
    text = HEADER + "1,LA01,,Vientiane Capital,\n2,LA0101,LA01,Chanthabuly,\n2,LA0201,LA02,May,\n"
    with pytest.raises(GazetteerError, match=r"row 4 \(LA0201\): parent P-code LA02 is not in"):
        parse(text)


def test_a_cycle_is_refused_with_its_row() -> None:
    text = HEADER + "1,LA01,,Vientiane Capital,\n2,LA0101,LA0102,A,\n2,LA0102,LA0101,B,\n"
    with pytest.raises(GazetteerError, match=r"row 3 \(LA0101\): parents form a cycle"):
        parse(text)


def test_a_parent_on_the_wrong_level_is_refused() -> None:
    text = HEADER + "1,LA01,,Vientiane Capital,\n3,LA010101,LA01,Ban Na,\n"
    with pytest.raises(
        GazetteerError, match=r"row 3 \(LA010101\): a level 3 area lies in a level 2"
    ):
        parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pcode,name_en\nLA01,X\n", "row 1: the header needs"),
        (HEADER + "one,LA01,,X,\n", "row 2: admin level 'one' is not a number"),
        (HEADER + "1,la 01,,X,\n", "row 2: P-code 'LA 01' is not a P-code"),
        (HEADER + "1,LA01,,,\n", r"row 2 \(LA01\): the English name is empty"),
        (HEADER, "no areas"),
    ],
)
def test_other_malformed_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(GazetteerError, match=message):
        parse(text)


def test_an_xlsx_file_in_cod_ab_style_is_read() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["admin_level", "pcode", "parent_pcode", "name_en", "name_km"])
    sheet.append([1, "KH01", None, "Banteay Meanchey", "បន្ទាយមានជ័យ"])
    sheet.append([2, "KH0102", "KH01", "Mongkol Borei", "មង្គលបូរី"])
    out = io.BytesIO()
    book.save(out)
    areas = core.parse_areas(core.read_table("cambodia.xlsx", out.getvalue()))
    assert [(a.level, a.pcode, a.parent_pcode) for a in areas] == [
        (1, "KH01", ""),
        (2, "KH0102", "KH01"),
    ]
    assert areas[1].label == "Mongkol Borei (មង្គលបូរី)"


def test_other_file_types_are_refused() -> None:
    with pytest.raises(GazetteerError, match=r"\.csv or \.xlsx"):
        core.read_table("gazetteer.json", b"{}")
