"""ODK's own XForms engine for the form tests: tests/forms/odk_engine/ installs
@getodk/xforms-engine from its package-lock.json the first time, then fills forms through it."""

from __future__ import annotations

import json
import select
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

ENGINE_DIR = Path(__file__).resolve().parent / "odk_engine"
RunForm = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def odk_engine() -> Iterator[RunForm]:
    """A function that fills a form XML with the engine and returns run_form.mjs's report.

    One node process serves the whole run (``run_form.mjs --serve``, a request a line): starting
    node and loading the engine took most of each form's time. Skips when node is not
    installed; fails when npm cannot install the pinned packages.
    """
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: ODK's XForms engine (tests/forms/odk_engine) needs it")
    if not (ENGINE_DIR / "node_modules" / "@getodk" / "xforms-engine").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: it installs tests/forms/odk_engine")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(ENGINE_DIR)],
            check=True,
            capture_output=True,
            timeout=600,
        )
    engine = subprocess.Popen(
        [node, str(ENGINE_DIR / "run_form.mjs"), "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert engine.stdin is not None and engine.stdout is not None
    replies = engine.stdout

    def run(
        form: Path,
        media: Path | None = None,
        *,
        languages: Sequence[str] = (),
        language: str | None = None,
        answers: Sequence[tuple[str, str]] = (),
        preload: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        request = {
            "form": str(form),
            "media": str(media) if media else None,
            "languages": list(languages),
            "language": language,
            "answers": [list(answer) for answer in answers],
            "preload": preload or {},
        }
        assert engine.poll() is None, f"the engine's process ended ({engine.returncode})"
        assert engine.stdin is not None
        engine.stdin.write(json.dumps(request).encode() + b"\n")
        engine.stdin.flush()
        ready, _, _ = select.select([replies], [], [], 120)
        assert ready, "the engine gave no answer in 120 s"
        report: dict[str, Any] = json.loads(replies.readline())
        assert "error" not in report, report.get("error")
        return report

    yield run
    engine.stdin.close()
    try:
        engine.wait(timeout=10)
    except subprocess.TimeoutExpired:
        engine.kill()
        engine.wait()
