"""A submission laid out for its page (pure): fields in form order, groups, repeats as tables,
files and places; and the compiler's refusal split into sheet, row and message."""

from __future__ import annotations

from server import errors
from server.exports.tables import form_fields
from server.ui.forms import compile_errors
from server.ui.instance import Group, Repeat, Value, lay_out

FORM = """<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">
<h:head><model><instance><data id="f" version="1">
  <site><team/><photo/></site><location/><item><kind/><at/></item><meta><instanceID/></meta>
</data></instance>
<bind nodeset="/data/site/team" type="string"/><bind nodeset="/data/site/photo" type="binary"/>
<bind nodeset="/data/location" type="geopoint"/><bind nodeset="/data/item/kind" type="string"/>
<bind nodeset="/data/item/at" type="geopoint"/>
</model></h:head><h:body><repeat nodeset="/data/item"/></h:body></h:html>"""

SUBMISSION = """<data id="f" version="1"><site><team>Team 3</team><photo>p.jpg</photo></site>
<location>17.5 102.6 170 4</location>
<item><kind>BLU-26</kind><at>17.51 102.61 0 0</at></item><item><kind>M77</kind></item>
<meta><instanceID>uuid:1</instanceID></meta></data>"""


def test_fields_groups_repeats_files_and_places() -> None:
    laid = lay_out(SUBMISSION, form_fields(FORM))
    site, location, items = laid.nodes
    assert isinstance(site, Group) and site.name == "site"
    team, photo = site.children
    assert isinstance(team, Value) and (team.path, team.text) == ("/site/team", "Team 3")
    assert isinstance(photo, Value) and photo.is_image and photo.type == "binary"
    assert isinstance(location, Value) and location.type == "geopoint"
    assert isinstance(items, Repeat) and items.columns == ["kind", "at"]
    assert [[c.text if c else None for c in row] for row in items.rows] == [
        ["BLU-26", "17.51 102.61 0 0"],
        ["M77", None],
    ]
    assert laid.files == ["p.jpg"]
    assert [(s["name"], s["points"]) for s in laid.shapes] == [
        ("location", [[17.5, 102.6]]),
        ("at", [[17.51, 102.61]]),
    ]
    assert all(n.name != "meta" for n in laid.nodes)


def test_a_compile_error_names_its_sheet_and_row() -> None:
    problem = errors.invalid_form(
        "The XLSForm has errors",
        "[row : 3] On the 'survey' sheet, column 'type': Unknown question type 'integr'.\n"
        "The 'choices' sheet is missing the list 'yes_no'.",
    )
    first, second = compile_errors(problem)
    assert (first.sheet, first.row) == ("survey", 3)
    assert "integr" in first.message
    assert (second.sheet, second.row) == ("choices", None)
