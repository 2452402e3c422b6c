"""The layering of docs/adr/0007-layering.md, checked on the source: which part of the server may
import which, and what the sync client may use of the server.

Imports are read with ``ast`` from every file, including imports inside functions and under
``TYPE_CHECKING``: a function-local import is a dependency all the same.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server"
SYNC_CLIENT = ROOT / "sync_client"

# Each part of the server (a package, or a module directly under server/) and its layer: a part
# may import its own layer and the layers below, never a layer above (ADR 0007).
LAYERS: dict[str, int] = {
    # 0: foundations, no domain knowledge
    "settings": 0,
    "errors": 0,
    "http": 0,
    "xmlsafe": 0,
    "logging_setup": 0,
    "db": 0,
    "migrate": 0,
    "console": 0,  # the CLI's plumbing: one-line failures, exit codes, the runtime it is given
    "public_url": 0,
    "files": 0,  # owner-only files and directories in the data directory
    "odk_encryption": 0,  # ODK managed encryption over bytes: key pairs, opening submissions
    "config_cache": 0,  # what the ingest path keeps between requests, and its validity check
    # 1: storage every domain package writes to
    "blobs": 1,
    "audit": 1,
    "feed": 1,
    # 2: the request plumbing (runtime, the request's session, device URLs) and projects
    "web": 2,
    "urls": 2,
    "projects": 2,
    # people and roles, who is calling, and the projects API (what a caller sees is their roles)
    "accounts": 2,
    # personal data: who may read it, what devices and partners get, consent (docs/adr/0015)
    "personal": 2,
    # 3-5: the domain, lowest first
    "entities": 3,
    "forms": 4,
    "submissions": 5,
    "gazetteer": 5,  # places: the areas table, and sending gazetteer.csv with the forms
    # 6: use cases that combine submissions and entities, and what reads them all
    "intake": 6,
    "exports": 6,
    "donors": 6,  # donor accountability: agreements, transactions, the donor report, IATI XML
    "reports": 6,  # coalition reports; their facts are written by intake, beside them
    "data_protection": 6,  # withdrawing consent, the retention purge (above what they clean)
    # 7: protocols
    "openrosa": 7,
    "sync": 7,
    "central": 7,  # ODK Central's REST API (pyodk, ruODK, Power BI)
    "bundles": 7,  # offline bundles: laptop keys, signed and encrypted files, their import
    "app_errors": 7,
    "ui": 7,  # the web UI: pages over the services below
    # 8: assembling a whole server
    "models": 8,
    "runtime": 8,
    "hub": 8,
    # 9: entry points
    "serving": 9,  # waitress in one process, or gunicorn workers
    "cli": 9,
    "server": 9,
}


@dataclass(frozen=True)
class Import:
    source: str  # dotted module that imports
    target: str  # dotted module (or module.name) imported
    names: tuple[str, ...]  # names taken by ``from x import a, b``
    line: int

    def where(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, source: str | None = None) -> Iterator[Import]:
    source = source or module_name(path)
    package = source if path.name == "__init__.py" else source.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source, alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            names = tuple(a.name for a in node.names)
            yield Import(source, module, names, node.lineno)
            for name in names:
                yield Import(source, f"{module}.{name}", (), node.lineno)


def python_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.py") if "__pycache__" not in p.parts)


def part_of(dotted: str) -> str | None:
    """The part of the server a dotted name belongs to, or None outside the server (or for
    a name that is not a module of it)."""
    parts = dotted.split(".")
    if parts[0] != "server":
        return None
    if len(parts) == 1:
        return "server"
    if (SERVER / parts[1]).is_dir() or (SERVER / f"{parts[1]}.py").is_file():
        return parts[1]
    return None


def server_edges() -> dict[tuple[str, str], list[Import]]:
    edges: dict[tuple[str, str], list[Import]] = {}
    for path in python_files(SERVER):
        for imp in imports_of(path):
            if imp.target == "server" and imp.names:
                continue  # ``from server import errors``: the part is errors, counted apart
            source, target = part_of(imp.source), part_of(imp.target)
            if source and target and source != target:
                edges.setdefault((source, target), []).append(imp)
    return edges


def cycles(edges: dict[tuple[str, str], list[Import]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one part (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def describe(component: frozenset[str], edges: dict[tuple[str, str], list[Import]]) -> str:
    lines = [", ".join(sorted(component)) + ":"]
    for (source, target), found in sorted(edges.items()):
        if source in component and target in component:
            lines.append(f"  {source} -> {target} ({found[0].where()})")
    return "\n".join(lines)


# --- the checker itself ------------------------------------------------------------------------


def test_the_checker_finds_function_local_imports_and_cycles(tmp_path: Path) -> None:
    code = tmp_path / "sample.py"
    code.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from server.entities.models import Entity\n"
        "def f():\n"
        "    from server.submissions import service\n",
        encoding="utf-8",
    )
    found = {imp.target for imp in imports_of(code, "server.sample")}
    assert {"server.entities.models", "server.submissions", "server.submissions.service"} <= found
    edges: dict[tuple[str, str], list[Import]] = {
        ("a", "b"): [],
        ("b", "c"): [],
        ("c", "a"): [],
        ("c", "d"): [],
    }
    assert cycles(edges) == [frozenset({"a", "b", "c"})]


# --- the server ---------------------------------------------------------------------------------


def test_every_part_of_the_server_has_a_layer() -> None:
    parts = {p.name for p in SERVER.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    parts |= {p.stem for p in SERVER.glob("*.py") if p.name != "__init__.py"}
    assert parts - set(LAYERS) == set(), "add the new part to LAYERS and to ADR 0007"


def test_submissions_import_nothing_of_entities_or_of_the_use_cases_above() -> None:
    offending = [
        imp.where()
        for path in python_files(SERVER / "submissions")
        for imp in imports_of(path)
        if part_of(imp.target) in ("entities", "intake")
    ]
    assert offending == []


def test_no_part_imports_a_layer_above_its_own() -> None:
    upward = [
        f"{source} (layer {LAYERS[source]}) -> {target} (layer {LAYERS[target]}): "
        f"{found[0].where()}"
        for (source, target), found in sorted(server_edges().items())
        if LAYERS[target] > LAYERS[source]
    ]
    assert upward == []


def test_no_cycle_between_server_parts() -> None:
    edges = server_edges()
    found = cycles(edges)
    assert found == [], "\n".join(describe(c, edges) for c in found)


# --- the sync client ------------------------------------------------------------------------------


def _server_imports(path: Path) -> list[Import]:
    return [imp for imp in imports_of(path) if imp.target.split(".")[0] == "server"]


def test_the_sync_client_uses_no_private_name_of_the_server() -> None:
    offending = []
    for path in python_files(SYNC_CLIENT):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bound: set[str] = set()
        for imp in _server_imports(path):
            private = [n for n in imp.names if n.startswith("_")]
            private += [p for p in imp.target.split(".") if p.startswith("_")]
            if private:
                offending.append(f"{imp.where()}: {', '.join(private)}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("server"):
                bound |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                bound |= {
                    a.asname or a.name.split(".")[0]
                    for a in node.names
                    if a.name.startswith("server")
                }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
                and node.attr.startswith("_")
            ):
                offending.append(f"{module_name(path)}:{node.lineno} uses {node.attr}")
    assert offending == []


def test_the_field_hub_client_uses_the_public_hub_module_only() -> None:
    used = {
        imp.target
        for imp in _server_imports(SYNC_CLIENT / "hub.py")
        if not imp.names  # the module itself, or a name taken from it
    }
    assert used, "sync_client/hub.py is expected to use server.hub"
    assert used <= {"server", "server.hub", "server.hub.Runtime"}, used
