"""Every form also passes ODK Validate, the JavaRosa engine ODK Collect runs on the tablet.

pyxform does not evaluate XPath; JavaRosa does, and refuses for instance a coalesce() with three
arguments or a cycle between calculations. Needs Java; skipped where there is none.
"""

from __future__ import annotations

import shutil

import pytest
from pyxform.xls2xform import convert

from .xform_eval import FORMS_DIR

pytestmark = [
    pytest.mark.skipif(shutil.which("java") is None, reason="ODK Validate needs Java"),
]


@pytest.mark.parametrize("form_id", sorted(p.stem for p in FORMS_DIR.glob("*.xlsx")))
def test_form_passes_odk_validate(form_id: str) -> None:
    warnings: list[str] = []
    convert(xlsform=FORMS_DIR / f"{form_id}.xlsx", warnings=warnings, validate=True)
    assert warnings == []
