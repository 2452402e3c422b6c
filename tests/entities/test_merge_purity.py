"""The merge core stays pure: its modules import only the standard library (and each other),
and its tests import only the core and each other, so they run without a database or a server
(which is also what lets `make mutation` run them thousands of times).
"""

from __future__ import annotations

import ast
import configparser
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = [
    "server/entities/merge.py",
    "server/entities/merge_causal.py",
    "server/entities/merge_engine.py",
    "server/entities/merge_types.py",
    "server/entities/policies.py",
]
CORE_MODULES = {p.removesuffix(".py").replace("/", ".") for p in CORE}
# Every test file of the core, by the names reserved for them.
CORE_TESTS = sorted(
    path.relative_to(ROOT).as_posix()
    for pattern in ("test_merge*.py", "test_policies*.py")
    for path in (ROOT / "tests" / "entities").glob(pattern)
)
#: They check the tests, not the core: mutating the core cannot change their outcome.
NOT_MUTATION_TESTS = {
    "tests/entities/test_merge_generator_rates.py",
    "tests/entities/test_merge_purity.py",
}
TEST_LIBRARIES = {"pytest", "hypothesis"}


def imported_modules(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def is_stdlib(module: str) -> bool:
    return module == "__future__" or module.split(".")[0] in sys.stdlib_module_names


@pytest.mark.parametrize("path", CORE)
def test_core_modules_import_only_the_standard_library(path: str) -> None:
    outside = {m for m in imported_modules(path) if not is_stdlib(m)}

    assert outside <= CORE_MODULES, outside


@pytest.mark.parametrize("path", CORE_TESTS)
def test_core_tests_import_only_the_core(path: str) -> None:
    own_tests = {p.removesuffix(".py").replace("/", ".") for p in CORE_TESTS}

    outside = {
        m
        for m in imported_modules(path)
        if not is_stdlib(m) and m.split(".")[0] not in TEST_LIBRARIES
    }

    assert outside <= CORE_MODULES | own_tests, outside


def test_every_core_module_is_mutated_by_make_mutation() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")

    assert set(config["mutmut"]["only_mutate"].split()) == set(CORE)


def test_every_core_test_is_run_by_make_mutation() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    named = set(config["mutmut"]["pytest_add_cli_args_test_selection"].split())

    assert "tests/entities/test_merge.py" in CORE_TESTS
    assert named == set(CORE_TESTS) - NOT_MUTATION_TESTS
