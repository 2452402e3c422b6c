"""The pure core of the exports, without a server or a database: the XForm's tables, the
column policy, KEYs of nested repeats, the $filter, and CSV quoting (property-based)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.exports.csv import root_csv
from server.exports.filters import BoolOp, Comparison, FilterError, Not, matches, parse_filter
from server.exports.rows import instance_rows
from server.exports.source import ExportSubmission
from server.exports.tables import (
    ColumnAction,
    Field,
    build_schema,
    form_fields,
    merge_fields,
)
from tests.exports.conftest import FIXTURES

V2 = (FIXTURES / "hazard_survey_v2.xml").read_bytes()
V1 = (FIXTURES / "hazard_survey_v1.xml").read_bytes()


def test_fields_in_instance_order_with_one_entry_per_repeat() -> None:
    paths = [f.path for f in form_fields(V2)]
    assert paths[:4] == ["/deviceid", "/respondent", "/respondent/name", "/respondent/visit_date"]
    # pyxform's jr:template and first instance of a repeat count once.
    assert paths.count("/household/person") == 1
    assert paths.count("/household/person/injury/kind") == 1
    kinds = {f.path: f.type for f in form_fields(V2)}
    assert kinds["/household/person"] == "repeat"
    assert kinds["/household"] == "structure"
    assert kinds["/location"] == "geopoint"
    assert [f.path for f in form_fields(V2) if f.select_multiple] == ["/hazards"]


def test_merged_fields_keep_each_old_field_in_its_place() -> None:
    merged = [f.path for f in merge_fields(form_fields(V2), [form_fields(V1)])]
    assert merged.index("/old_notes") == merged.index("/area_m2") + 1
    assert "/route" in merged
    assert len(merged) == len(set(merged))


def test_the_column_policy_drops_or_pseudonymises_in_one_place() -> None:
    def policy(fld: Field, role: str) -> ColumnAction:
        if fld.name == "name":
            return ColumnAction.DROP if role == "viewer" else ColumnAction.PSEUDONYMISE
        return ColumnAction.KEEP

    fields = form_fields(V2)
    viewer = build_schema("hazard_survey", fields, policy=policy, role="viewer")
    assert "respondent-name" not in viewer.root.headers
    assert "respondent-visit_date" in viewer.root.headers
    coordinator = build_schema("hazard_survey", fields, policy=policy, role="coordinator")
    xml = (
        '<data id="hazard_survey"><respondent><name>Noy</name></respondent>'
        "<meta><instanceID>uuid:1</instanceID></meta></data>"
    )
    rows = instance_rows(coordinator, "uuid:1", xml, lambda v: f"p-{len(v)}")
    assert rows.root[coordinator.root.headers.index("respondent-name")] == "p-3"


def test_nested_repeat_keys_count_within_their_parent() -> None:
    schema = build_schema("hazard_survey", form_fields(V2))
    xml = (
        '<data id="hazard_survey"><household>'
        "<person><pname>a</pname><injury><kind>x</kind></injury></person>"
        "<person><pname>b</pname><injury><kind>y</kind></injury><injury><kind>z</kind></injury>"
        "</person></household><meta><instanceID>uuid:k</instanceID></meta></data>"
    )
    rows = instance_rows(schema, "uuid:k", xml)
    keys = [(t.file_stem, r[-2], r[-1]) for t, r in rows.repeats]
    assert keys == [
        (
            "hazard_survey-injury",
            "uuid:k/household/person[1]",
            "uuid:k/household/person[1]/injury[1]",
        ),
        ("hazard_survey-person", "uuid:k", "uuid:k/household/person[1]"),
        (
            "hazard_survey-injury",
            "uuid:k/household/person[2]",
            "uuid:k/household/person[2]/injury[1]",
        ),
        (
            "hazard_survey-injury",
            "uuid:k/household/person[2]",
            "uuid:k/household/person[2]/injury[2]",
        ),
        ("hazard_survey-person", "uuid:k", "uuid:k/household/person[2]"),
    ]


def test_repeats_with_the_same_name_get_numbered_files() -> None:
    fields = [
        Field("/a", "a", "structure"),
        Field("/a/item", "item", "repeat"),
        Field("/a/item/x", "x", "string"),
        Field("/b", "b", "structure"),
        Field("/b/item", "item", "repeat"),
        Field("/b/item/y", "y", "string"),
    ]
    schema = build_schema("f", fields)
    assert [t.file_stem for t in schema.tables] == ["f", "f-item~1", "f-item~2"]
    assert schema.tables[1].headers == ["x", "PARENT_KEY", "KEY"]


def test_the_filter_grammar() -> None:
    node = parse_filter(
        "not __system/reviewState eq 'approved' and (__system/submitterId eq 4 "
        "or __system/submissionDate ge 2026-01-01)"
    )
    assert isinstance(node, BoolOp) and node.op == "and"
    assert isinstance(node.left, Not)
    moment = datetime(2026, 2, 1, tzinfo=UTC)
    base = {"__system/submissionDate": moment, "__system/submitterId": 9}
    assert matches(node, {**base, "__system/reviewState": None})
    assert not matches(node, {**base, "__system/reviewState": "approved"})
    assert parse_filter("__system/submitterId ne null") == Comparison(
        "__system/submitterId", "ne", None
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the filter is empty"),
        ("__system/submissionDate gt", "the filter ends too early"),
        ("__system/submissionDate is 2026-01-01", "expected an operator"),
        ("__system/reviewState gt 'approved'", "can only be compared with eq or ne"),
        ("__system/submitterId eq 'x'", "whole number"),
        ("(__system/submitterId eq 1", "the filter ends too early"),
        ("__system/submitterId eq 1 )", r"unexpected '\)'"),
        ("__system/submissionDate eq null", "is never null"),
    ],
)
def test_a_bad_filter_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        parse_filter(text)


# XML 1.0 characters, without CR (XML reads every CR as a line feed).
_xml_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="\r\x00",
        min_codepoint=0x09,
    ).filter(lambda c: c in "\t\n" or ord(c) >= 0x20),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(name=_xml_text, remarks=_xml_text)
def test_any_text_survives_the_csv(name: str, remarks: str) -> None:
    schema = build_schema("hazard_survey", form_fields(V2))
    xml = (
        f'<data id="hazard_survey"><respondent><name>{escape(name)}</name></respondent>'
        f"<remarks>{escape(remarks)}</remarks><meta><instanceID>uuid:p</instanceID></meta></data>"
    )
    submission = ExportSubmission(
        instance_id="uuid:p", xml=xml, submission_date=datetime(2026, 1, 1, tzinfo=UTC)
    )
    text = b"".join(root_csv(schema, [submission])).decode("utf-8")
    header, row = list(csv.reader(io.StringIO(text, newline="")))
    values = dict(zip(header, row, strict=True))
    assert values["respondent-name"] == name
    assert values["remarks"] == remarks
    assert values["KEY"] == "uuid:p"


def test_a_client_that_hangs_up_leaves_no_file_open(monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile as real_tempfile

    from server.exports import csv as csv_module
    from server.exports.csv import csv_zip

    opened: list[object] = []
    original = real_tempfile.TemporaryFile

    def tracked() -> object:
        spool = original()
        opened.append(spool)
        return spool

    monkeypatch.setattr(csv_module.tempfile, "TemporaryFile", tracked)
    monkeypatch.setattr(csv_module, "FLUSH_AT", 1)
    schema = build_schema("hazard_survey", form_fields(V2))
    xml = (
        '<data id="hazard_survey"><household><person><pname>a</pname></person></household>'
        "<meta><instanceID>uuid:h</instanceID></meta></data>"
    )
    submissions = (
        ExportSubmission(instance_id="uuid:h", xml=xml, submission_date=datetime.now(UTC))
        for _ in range(50)
    )
    chunks = csv_zip(schema, submissions)
    assert next(chunks)
    assert opened and not any(f.closed for f in opened)  # type: ignore[attr-defined]
    chunks.close()  # what the WSGI server does when the client goes away
    assert all(f.closed for f in opened)  # type: ignore[attr-defined]


def test_sheet_names_are_valid_and_unique() -> None:
    from server.exports.xlsx import sheet_names

    fields = [
        Field("/a", "a", "structure"),
        Field("/a/item", "item", "repeat"),
        Field("/a/item/x", "x", "string"),
        Field("/b", "b", "structure"),
        Field("/b/item", "item", "repeat"),
        Field("/b/item/y", "y", "string"),
    ]
    schema = build_schema("a_very_long_form_id_for_the_survey_of_2026", fields)
    names = sheet_names(schema)
    assert names == ["a_very_long_form_id_for_the_sur", "item", "item~2"]
    assert all(len(n) <= 31 for n in names)
