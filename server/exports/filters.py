"""The ``$filter`` of an export: the subset of OData that Central's CSV export accepts on
submission metadata, e.g. ``__system/submissionDate ge 2026-01-01 and
__system/reviewState eq 'approved'``.

Parsed into a small tree here (pure); :mod:`server.exports.service` turns the tree into SQL and
:func:`matches` evaluates it on a record (the offline export). Central's OData feed passes
more ``fields`` (the form's own, by path) and allows ``year()``, ``month()`` and ``day()``;
the export's SQL never sees those, because its parse allows neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

FIELDS = {
    "__system/submissionDate": "datetime",
    "__system/updatedAt": "datetime",
    "__system/reviewState": "review_state",
    "__system/submitterId": "int",
}
REVIEW_STATES = ("hasIssues", "edited", "approved", "rejected")
OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge")
# The kinds a field may have: "datetime", "date", "int", "number", "text", "review_state".
FUNCTIONS = ("year", "month", "day")

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<paren>[()])
    | (?P<string>'(?:[^']|'')*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<word>[A-Za-z_$][\w/$.]*)
    )""",
    re.VERBOSE,
)


class FilterError(ValueError):
    """The filter cannot be read; the message says where and why."""


@dataclass(frozen=True)
class Comparison:
    field: str  # a key of FIELDS (or of the fields the parse was given)
    op: str  # one of OPERATORS
    value: Any  # datetime (UTC), date, int, float, str, or None
    function: str | None = None  # one of FUNCTIONS, applied to the field's value


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    left: Node
    right: Node


Node = Comparison | Not | BoolOp


@dataclass
class _Token:
    kind: str
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterError(f"unexpected text at character {pos + 1}: {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        out.append(_Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return out


def parse_filter(
    text: str, fields: dict[str, str] | None = None, *, functions: bool = False
) -> Node:
    """Parse a ``$filter`` expression over ``fields`` (name → kind; the export's metadata
    fields by default), with ``year()``, ``month()`` and ``day()`` when ``functions``.

    Raises:
        FilterError: with a message naming the offending part.
    """
    tokens = _tokens(text)
    if not tokens:
        raise FilterError("the filter is empty")
    parser = _Parser(tokens, FIELDS if fields is None else fields, functions)
    node = parser.expression()
    if parser.pos < len(tokens):
        token = tokens[parser.pos]
        raise FilterError(f"unexpected {token.text!r} at character {token.at + 1}")
    return node


class _Parser:
    def __init__(self, tokens: list[_Token], fields: dict[str, str], functions: bool) -> None:
        self.tokens = tokens
        self.pos = 0
        self.fields = fields
        self.functions = functions

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise FilterError("the filter ends too early")
        self.pos += 1
        return token

    def word(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text in words:
            self.pos += 1
            return True
        return False

    def expression(self) -> Node:
        node = self.conjunction()
        while self.word("or"):
            node = BoolOp("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.word("and"):
            node = BoolOp("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.word("not"):
            return Not(self.negation())
        token = self.peek()
        if token is not None and token.text == "(":
            self.take()
            node = self.expression()
            closing = self.take()
            if closing.text != ")":
                raise FilterError(f"expected ')' at character {closing.at + 1}")
            return node
        return self.comparison()

    def comparison(self) -> Node:
        name = self.take()
        function = None
        following = self.peek()
        if (
            self.functions
            and name.kind == "word"
            and name.text in FUNCTIONS
            and following is not None
            and following.text == "("
        ):
            function = name.text
            self.take()
            name = self.take()
            closing = self.take()
            if closing.text != ")":
                raise FilterError(f"expected ')' at character {closing.at + 1}")
        if name.kind != "word" or name.text not in self.fields:
            known = ", ".join(self.fields)
            raise FilterError(
                f"{name.text!r} at character {name.at + 1} is not a field that can be "
                f"filtered on ({known})"
            )
        if function and self.fields[name.text] not in ("datetime", "date"):
            raise FilterError(f"{function}() takes a date or date-time field, not {name.text}")
        op = self.take()
        if op.kind != "word" or op.text not in OPERATORS:
            raise FilterError(
                f"expected an operator ({', '.join(OPERATORS)}) after {name.text}, "
                f"got {op.text!r} at character {op.at + 1}"
            )
        kind = "int" if function else self.fields[name.text]
        value = _literal(name.text, kind, op.text, self.take())
        return Comparison(name.text, op.text, value, function)


def _literal(field: str, kind: str, op: str, token: _Token) -> Any:
    where = f"at character {token.at + 1}"
    if token.kind == "word" and token.text == "null":
        if op not in ("eq", "ne"):
            raise FilterError(f"null can only be compared with eq or ne ({where})")
        if kind == "datetime" and field.startswith("__system/"):
            raise FilterError(f"{field} is never null ({where})")
        return None
    if kind == "datetime":
        text = token.text[1:-1] if token.kind == "string" else token.text
        return _moment(text, field, where)
    if kind == "date":
        text = token.text[1:-1] if token.kind == "string" else token.text
        return _moment(text, field, where).date()
    if kind == "number":
        if token.kind != "number":
            raise FilterError(f"{field} is compared with a number, not {token.text} ({where})")
        return float(token.text)
    if kind == "text":
        if token.kind != "string":
            raise FilterError(f"{field} is compared with a quoted value, e.g. 'x' ({where})")
        return token.text[1:-1].replace("''", "'")
    if kind == "int":
        if token.kind != "number" or "." in token.text:
            raise FilterError(
                f"{field} is compared with a whole number, not {token.text} ({where})"
            )
        return int(token.text)
    if op not in ("eq", "ne"):
        raise FilterError(f"{field} can only be compared with eq or ne ({where})")
    if token.kind != "string":
        raise FilterError(f"{field} is compared with a quoted value, e.g. 'approved' ({where})")
    value = token.text[1:-1].replace("''", "'")
    if value not in REVIEW_STATES:
        allowed = ", ".join(repr(s) for s in REVIEW_STATES)
        raise FilterError(
            f"{value!r} is not a review state; use one of {allowed}, or null for a submission "
            f"not reviewed yet ({where})"
        )
    return value


def _moment(text: str, field: str, where: str) -> datetime:
    try:
        if "T" not in text:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(f"{text!r} is not a date or date-time for {field} ({where})") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def matches(node: Node, values: dict[str, Any]) -> bool:
    """Whether a record passes the filter; ``values`` maps each field of FIELDS to its value."""
    if isinstance(node, BoolOp):
        if node.op == "and":
            return matches(node.left, values) and matches(node.right, values)
        return matches(node.left, values) or matches(node.right, values)
    if isinstance(node, Not):
        return not matches(node.operand, values)
    value = values.get(node.field)
    if node.function is not None and value is not None:
        value = getattr(value, node.function)
    if node.value is None or value is None:
        same = value is None and node.value is None
        return same if node.op == "eq" else (not same if node.op == "ne" else False)
    try:
        compare = {
            "eq": value == node.value,
            "ne": value != node.value,
            "lt": value < node.value,
            "le": value <= node.value,
            "gt": value > node.value,
            "ge": value >= node.value,
        }
    except TypeError:
        # A value stored as text where the form says number (an old version's answer): it
        # is neither smaller nor larger, and only "ne" holds.
        return node.op == "ne"
    return bool(compare[node.op])
