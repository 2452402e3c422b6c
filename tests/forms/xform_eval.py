"""A small evaluator of compiled XForms, so form logic can be tested without a tablet.

It compiles a workbook from forms/ with pyxform, keeps the primary instance as an lxml tree and
evaluates the form's own bind expressions (calculate, relevant, constraint, setvalue) with lxml's
XPath 1.0 engine, adding the ODK functions the library uses (if, selected, coalesce...).
"""

from __future__ import annotations

import copy
import csv
import datetime
import functools
import importlib.util
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from lxml import etree
from pyxform.xls2xform import convert

FORMS_DIR = Path(__file__).resolve().parents[2] / "forms"
NS = {
    "xf": "http://www.w3.org/2002/xforms",
    "h": "http://www.w3.org/1999/xhtml",
    "jr": "http://openrosa.org/javarosa",
    "entities": "http://www.opendatakit.org/xforms/entities",
}
JR_TEMPLATE = f"{{{NS['jr']}}}template"
SECONDARY = "secondary_instances"
TODAY = "2026-11-29"
EPOCH = datetime.date(1970, 1, 1)
GAZETTEER_CSV = FORMS_DIR / "gazetteer" / "gazetteer.csv"


@functools.cache
def bundled_gazetteer() -> tuple[dict[str, str], ...]:
    """The rows of the bundled gazetteer media file, as a device reads them."""
    with GAZETTEER_CSV.open(encoding="utf-8", newline="") as handle:
        return tuple(csv.DictReader(handle))


def load_build() -> ModuleType:
    """Import forms/build.py (forms/ is a folder of files, not a Python package)."""
    if "forms_build" not in sys.modules:
        spec = importlib.util.spec_from_file_location("forms_build", FORMS_DIR / "build.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["forms_build"] = module  # dataclasses look their module up while building
        spec.loader.exec_module(module)
    return sys.modules["forms_build"]


@functools.cache
def compile_form(form_id: str) -> tuple[str, tuple[str, ...]]:
    """Compile forms/<form_id>.xlsx once; return the XForm XML and pyxform's warnings."""
    warnings: list[str] = []
    result = convert(xlsform=FORMS_DIR / f"{form_id}.xlsx", warnings=warnings)
    return result.xform, tuple(warnings)


@functools.cache
def parsed_form(form_id: str) -> etree._Element:
    """The compiled XForm of forms/<form_id>.xlsx as an lxml element (shared: do not modify)."""
    return etree.fromstring(compile_form(form_id)[0].encode())


def _text(value: Any) -> str:
    """XPath string() of a value returned by lxml, in JavaRosa's number format."""
    if isinstance(value, list):
        if not value:
            return ""
        first = value[0]
        return str(first) if isinstance(first, str) else "".join(first.itertext())
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _truth(value: Any) -> bool:
    if isinstance(value, list | str):
        return len(value) > 0
    if isinstance(value, float):
        return value != 0 and not math.isnan(value)
    return bool(value)


def _odk_functions(instances: Mapping[str, etree._Element]) -> dict[tuple[None, str], Callable]:
    def odk_if(_: object, condition: Any, then: Any, otherwise: Any) -> Any:
        return then if _truth(condition) else otherwise

    def coalesce(_: object, first: Any, second: Any) -> str:
        return _text(first) or _text(second)

    def selected(_: object, values: Any, choice: Any) -> bool:
        return _text(choice) in _text(values).split()

    def count_selected(_: object, values: Any) -> float:
        return float(len(_text(values).split()))

    def join(_: object, separator: Any, *values: Any) -> str:
        items = [_text([v]) for arg in values for v in (arg if isinstance(arg, list) else [arg])]
        return _text(separator).join(items)

    def regex(_: object, value: Any, pattern: Any) -> bool:
        return re.search(_text(pattern), _text(value)) is not None

    def format_date(_: object, value: Any, pattern: Any) -> str:
        text = _text(value)
        if re.fullmatch(r"-?[0-9]+", text):  # a date compared as a number of days
            text = (EPOCH + datetime.timedelta(days=int(text))).isoformat()
        year, month, day = text[:10].split("-")
        return _text(pattern).replace("%Y", year).replace("%m", month).replace("%d", day)

    def instance(_: object, name: Any) -> list[etree._Element]:
        return [instances[_text(name)]]

    def selected_at(_: object, values: Any, index: Any) -> str:
        items = _text(values).split()
        position = int(float(_text(index)))
        return items[position] if 0 <= position < len(items) else ""

    def substr(_: object, value: Any, start: Any, end: Any = None) -> str:
        text = _text(value)
        stop = len(text) if end is None else int(float(_text(end)))
        return text[int(float(_text(start))) : stop]

    def once(context: Any, value: Any) -> str:
        # once() keeps a value already there: an id made when the item was added stays.
        node = context.context_node
        return (node.text or "") if isinstance(node, etree._Element) and node.text else _text(value)

    def repeat_position(_: object, nodes: Any) -> float:
        # ODK's position(..): the 1-based index of the repeat item among its siblings.
        (node,) = nodes
        siblings = [n for n in node.getparent() if n.tag == node.tag]
        return float(siblings.index(node) + 1)

    return {
        (None, "if"): odk_if,
        (None, "coalesce"): coalesce,
        (None, "selected"): selected,
        (None, "count-selected"): count_selected,
        (None, "join"): join,
        (None, "regex"): regex,
        (None, "format-date"): format_date,
        (None, "instance"): instance,
        (None, "selected-at"): selected_at,
        (None, "substr"): substr,
        (None, "repeat-position"): repeat_position,
        (None, "once"): once,
        (None, "uuid"): lambda _: "uuid-from-device",
        (None, "today"): lambda _: TODAY,
    }


def _days(text: str) -> str:
    """A date as JavaRosa compares it: the number of days since 1970-01-01."""
    try:
        return str((datetime.date.fromisoformat(text[:10]) - EPOCH).days)
    except ValueError:
        return text


def _strip_namespaces(element: etree._Element) -> etree._Element:
    for node in element.iter():
        node.tag = etree.QName(node).localname
        for key in list(node.attrib):
            if key.startswith("{") and key != JR_TEMPLATE:
                node.attrib[etree.QName(key).localname] = node.attrib.pop(key)
    return element


def _entity_list(rows: Iterable[Mapping[str, str]]) -> etree._Element:
    """An entity list attachment as ODK loads a CSV: /root/item/<column> under the instance."""
    holder = etree.Element("instance")
    root = etree.SubElement(holder, "root")
    for row in rows:
        item = etree.SubElement(root, "item")
        for column, value in row.items():
            etree.SubElement(item, column).text = value
    return holder


class FilledForm:
    """One filling of a compiled form: answers are set by field name, then recalculated."""

    def __init__(
        self, form_id: str, entity_lists: Mapping[str, Iterable[Mapping[str, str]]] | None = None
    ) -> None:
        self.xform = parsed_form(form_id)
        model = self.xform.find("h:head/xf:model", NS)
        primary = next(i for i in model.findall("xf:instance", NS) if "id" not in i.attrib)
        self.root = _strip_namespaces(copy.deepcopy(primary[0]))
        # Repeat templates are not part of a filled instance; keep them aside for new items.
        self.templates = {}
        for template in [n for n in self.root.iter() if n.get(JR_TEMPLATE) is not None]:
            del template.attrib[JR_TEMPLATE]
            self.templates[template.tag] = (template.getparent(), template)
            template.getparent().remove(template)
        # Entity lists live inside the same document so that absolute paths in predicates
        # (item[name= /data/hazard_area ]) still resolve against the form's answers.
        secondary = etree.SubElement(self.root, SECONDARY)
        instances = {}
        lists = dict(entity_lists or {})
        if model.find("xf:instance[@id='gazetteer']", NS) is not None:
            lists.setdefault("gazetteer", bundled_gazetteer())
        for name, rows in lists.items():
            instances[name] = _entity_list(rows)
            secondary.append(instances[name])
        self.binds = model.findall("xf:bind", NS)
        self.functions = _odk_functions(instances)
        # Conditions compare dates as numbers of days, as JavaRosa does; XPath 1.0 would
        # compare the strings as NaN.
        self.date_functions = {**self.functions, (None, "today"): lambda _: float(_days(TODAY))}
        for action in model.findall("xf:setvalue", NS):
            if action.get("event") == "odk-instance-first-load":
                self._setvalue(action)
        self.recalculate()

    def evaluate(self, expression: str, context: etree._Element | None = None) -> Any:
        """Evaluate an XPath expression of the form against the current answers."""
        # XPath 1.0's position() takes no argument; ODK's position(..) names the repeat item.
        expression = expression.replace("position(..)", "repeat-position(..)")
        compiled = etree.XPath(expression, extensions=self.functions)
        return compiled(self.root if context is None else context)

    def path(self, name: str) -> str:
        """The absolute path of the field called name (outside repeat templates)."""
        node = self.node(name)
        return "/" + "/".join(n.tag for n in reversed([node, *node.iterancestors()]))

    def node(self, name: str) -> etree._Element:
        for node in self.root.iter(name):
            if not any(a.tag == SECONDARY for a in node.iterancestors()):
                return node
        raise KeyError(name)

    def value(self, name: str) -> str:
        return self.node(name).text or ""

    def answer(self, **answers: str) -> FilledForm:
        """Set answers like a person would, firing setvalue triggers, then recalculate."""
        for name, value in answers.items():
            self.node(name).text = value
            path = self.path(name)
            for action in self.xform.iterfind(".//xf:setvalue", NS):
                control = action.getparent()
                if action.get("event") == "xforms-value-changed" and control.get("ref") == path:
                    self._setvalue(action)
            self.recalculate()
        return self

    def set_repeat(self, name: str, items: list[dict[str, str]]) -> FilledForm:
        """Replace the items of repeat `name` with new items holding the given answers."""
        parent, template = self.templates[name]
        for old in [n for n in parent if n.tag == name]:
            parent.remove(old)
        for answers in items:
            item = copy.deepcopy(template)
            for field, value in answers.items():
                item.find(field).text = value
            parent.append(item)
        self.recalculate()
        return self

    def recalculate(self) -> None:
        """Run every calculate bind until nothing changes (binds are not in dependency order)."""
        for _ in range(10):
            changed = False
            for bind in self.binds:
                expression = bind.get("calculate")
                if expression is None:
                    continue
                nodeset = bind.get("nodeset")
                target, _, attribute = nodeset.partition("/@")
                for node in self.evaluate(target):
                    new = _text(self.evaluate(expression, node))
                    old = node.get(attribute) if attribute else node.text
                    if (old or "") != new:
                        changed = True
                        if attribute:
                            node.set(attribute, new)
                        else:
                            node.text = new
            if not changed:
                return
        raise RuntimeError("calculations do not settle")

    def condition(self, expression: str, context: etree._Element) -> bool:
        """Evaluate a relevant, required or constraint expression, dates compared as days."""
        shadow = copy.deepcopy(self.root)
        tree = etree.ElementTree(self.root)
        for bind in self.binds:
            if bind.get("type") == "date":
                for node in shadow.xpath(bind.get("nodeset").replace("/data/", "/data/", 1)):
                    if node.text:
                        node.text = _days(node.text)
        target = shadow.xpath(tree.getpath(context))[0]
        expression = expression.replace("position(..)", "repeat-position(..)")
        compiled = etree.XPath(expression, extensions=self.date_functions)
        return _truth(compiled(target))

    def _bind_attribute(self, path: str, attribute: str) -> str | None:
        bind = next((b for b in self.binds if b.get("nodeset") == path), None)
        return None if bind is None else bind.get(attribute)

    def _setvalue(self, action: etree._Element) -> None:
        target, _, attribute = action.get("ref").partition("/@")
        new = _text(self.evaluate(action.get("value")))
        for node in self.evaluate(target):
            if attribute:
                node.set(attribute, new)
            else:
                node.text = new

    def is_relevant(self, name: str) -> bool:
        """Whether the field and all its groups are relevant with the current answers."""
        node = self.node(name)
        for each in [node, *node.iterancestors()]:
            path = "/" + "/".join(n.tag for n in reversed([each, *each.iterancestors()]))
            relevant = self._bind_attribute(path, "relevant")
            if relevant and not self.condition(relevant, each):
                return False
        return True

    def is_required(self, name: str) -> bool:
        """Whether the field must be answered with the current answers (relevant and required)."""
        required = self._bind_attribute(self.path(name), "required")
        if not required or not self.is_relevant(name):
            return False
        return self.condition(required, self.node(name))

    def accepts(self, name: str, value: str) -> bool:
        """Whether the field's constraint accepts value (the answer is kept)."""
        self.answer(**{name: value})
        constraint = self._bind_attribute(self.path(name), "constraint")
        assert constraint, f"{name} has no constraint"
        return self.condition(constraint, self.node(name))

    def entity(self) -> dict[str, str]:
        """The attributes and label of meta/entity as the device would submit them."""
        entity = self.root.find("meta/entity")
        return {**entity.attrib, "label": entity.findtext("label") or ""}
