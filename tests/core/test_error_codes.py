"""The error catalogue is complete: every code is declared once in server/errors.py, no other
module mints one, docs/errors.md lists them all, and the sync client matches only on real codes."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

from server import errors

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server"
ERRORS_PY = SERVER / "errors.py"
CODE_SHAPE = re.compile(r"^[a-z_]+(\.[a-z_<>]+)?$")


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_problem_construction(node: ast.Call) -> bool:
    func = node.func
    if isinstance(func, ast.Name) and func.id == "Problem":
        return True
    if isinstance(func, ast.Attribute) and func.attr == "Problem":
        return True
    # super().__init__(status, code, ...) inside a Problem subclass.
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "__init__"
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "super"
    )


def _subclasses_problem(node: ast.ClassDef) -> bool:
    for base in node.bases:
        if isinstance(base, ast.Name) and base.id == "Problem":
            return True
        if isinstance(base, ast.Attribute) and base.attr == "Problem":
            return True
    return False


def test_no_module_but_the_catalogue_mints_a_code() -> None:
    offenders = []
    for path in sorted(SERVER.rglob("*.py")):
        if path == ERRORS_PY:
            continue
        for node in ast.walk(_parse(path)):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and _is_problem_construction(node):
                if isinstance(node.func, ast.Attribute) and node.func.attr == "__init__":
                    continue  # super().__init__ of a class that is not a Problem is checked below
                offenders.append(f"{where}: builds a Problem; add a function to server/errors.py")
            if isinstance(node, ast.ClassDef) and _subclasses_problem(node):
                offenders.append(f"{where}: subclasses Problem; define it in server/errors.py")
    assert offenders == []


def test_codes_are_declared_once() -> None:
    declared = [
        node.args[0].value
        for node in ast.walk(_parse(ERRORS_PY))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "_define"
        and isinstance(node.args[0], ast.Constant)
    ]
    duplicates = [code for code, count in Counter(declared).items() if count > 1]
    assert duplicates == []
    assert sorted(declared) == sorted(errors.CATALOGUE)
    assert all(CODE_SHAPE.match(code) for code in declared), declared


def test_every_refusal_uses_a_declared_code_with_its_status() -> None:
    module = _parse(ERRORS_PY)
    constants = {
        name: value
        for name, value in vars(errors).items()
        if isinstance(value, str) and value in errors.CATALOGUE
    }
    used: set[str] = set()
    wrong = []
    for node in ast.walk(module):
        if not (isinstance(node, ast.Call) and _is_problem_construction(node)):
            continue
        if len(node.args) < 2:
            continue  # Problem(self.status, ...) in Problem.prefixed passes an existing code on
        status, code = node.args[0], node.args[1]
        where = f"server/errors.py:{node.lineno}"
        if isinstance(code, ast.Attribute) and code.attr == "code":
            continue  # re-raising an existing Problem with another detail
        if isinstance(code, ast.JoinedStr):
            # The one family: http.<status> for errors the web framework raises.
            used.add(errors.HTTP_OTHER)
            continue
        if not isinstance(code, ast.Name) or code.id not in constants:
            wrong.append(f"{where}: the code is not a constant declared with _define")
            continue
        entry = errors.CATALOGUE[constants[code.id]]
        used.add(entry.code)
        if isinstance(status, ast.Constant) and status.value != entry.status:
            wrong.append(
                f"{where}: {entry.code} is sent as {status.value}, catalogued as {entry.status}"
            )
    assert wrong == []
    # A catalogued code nobody can receive is a stale entry (blob.missing is a push item's
    # result, built by the sync service, not a Problem).
    assert set(errors.CATALOGUE) - used == {errors.BLOB_MISSING}


def test_every_code_is_documented_with_status_meaning_and_action() -> None:
    for entry in errors.CATALOGUE.values():
        assert entry.meaning.strip() and entry.action.strip(), entry.code
    documented = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert documented == errors.catalogue_markdown(), (
        "docs/errors.md is out of date: python -m server.errors > docs/errors.md"
    )
    for code in errors.CATALOGUE:
        assert f"`{code}`" in documented


def test_the_sync_client_matches_only_catalogued_codes() -> None:
    matched = set()
    # Comparisons with a server's code, and constants naming one (the client's own codes start
    # with "local."; file names such as "hub.json" are not codes).
    pattern = re.compile(r"""code\s*==\s*"([a-z_.]+)"|^[A-Z_]+ = "([a-z_]+\.[a-z_]+)"$""", re.M)
    for path in sorted((ROOT / "sync_client").rglob("*.py")):
        for found in pattern.finditer(path.read_text(encoding="utf-8")):
            code = found.group(1) or found.group(2)
            if not code.startswith("local.") and not code.endswith(".json"):
                matched.add(code)
    assert matched, "the pattern no longer finds the client's code comparisons"
    assert matched - set(errors.CATALOGUE) == set()
