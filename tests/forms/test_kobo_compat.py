"""The forms still load on KoboToolbox, which compiles XLSForms with its own pyxform (3.0.0 in
kobotoolbox/kpi's dependencies/pip/requirements.txt when this was written).

Set FIELDSYNC_KOBO_PYXFORM to a folder holding that version, made with
`pip install --target DIR pyxform==3.0.0`; without it the test is skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .xform_eval import FORMS_DIR

KOBO_PYXFORM_VERSION = "3.0.0"
TARGET = os.environ.get("FIELDSYNC_KOBO_PYXFORM", "")

pytestmark = pytest.mark.skipif(not TARGET, reason="FIELDSYNC_KOBO_PYXFORM is not set")

SCRIPT = """
import json, sys
import pyxform
from pyxform.xls2xform import convert
results = {}
for path in sys.argv[1:]:
    warnings = []
    convert(xlsform=path, warnings=warnings)
    results[path] = warnings
print(json.dumps({"version": pyxform.__version__, "warnings": results}))
"""


def test_every_form_compiles_with_kobotoolbox_pyxform() -> None:
    import json

    forms = sorted(str(p) for p in FORMS_DIR.glob("*.xlsx"))
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *forms],
        env={**os.environ, "PYTHONPATH": TARGET},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["version"] == KOBO_PYXFORM_VERSION
    assert result["warnings"] == {path: [] for path in forms}
