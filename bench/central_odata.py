"""Central OData benchmark: building ``Submissions`` rows and evaluating a ``$filter`` on form
fields (with ``year()``) in memory, as ``GET …/forms/<f>.svc/Submissions?$filter=…`` does,
for 1,000, 10,000 and 50,000 submissions of a form with a group and a nested repeat.

Pure: no server, no database (the rows come from XML strings), so the figures are the cost of
the in-memory step that docs/central-api.md names as the limit of this design.

    .venv/bin/python bench/central_odata.py
    .venv/bin/python bench/central_odata.py --sizes 1000,100000
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.central import odata  # noqa: E402
from server.exports.filters import FIELDS, matches, parse_filter  # noqa: E402

FORM = (ROOT / "tests" / "central_api" / "fixtures" / "site_survey.xml").read_text(encoding="utf-8")
FILTER = "devices_found gt 2 and year(details/cleared_on) eq 2026 and site_name ne 'School'"


def submission(i: int) -> str:
    members = "".join(f"<member><age>{20 + j}</age></member>" for j in range(i % 3))
    return (
        '<data id="site_survey" version="2026-12">'
        f"<site_name>Site {i}</site_name><devices_found>{i % 7}</devices_found>"
        f"<location>-1.5 30.25 1200 5</location>"
        f"<details><area_m2>{i * 1.5}</area_m2><cleared_on>2026-11-{1 + i % 28:02d}</cleared_on>"
        f"</details><household><head_name>H{i}</head_name>{members}</household>"
        f"<meta><instanceID>uuid:{i:08d}</instanceID></meta></data>"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,50000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    tree = odata.field_tree(FORM)
    own = odata.filter_fields(tree)
    node = parse_filter(FILTER, {**FIELDS, **own}, functions=True)
    system = odata.SystemValues(
        "2026-12-01T10:00:00.000Z", None, 1, "bench", 0, 0, None, None, 0, "2026-12"
    )
    print(f"$filter={FILTER}")
    for size in sizes:
        xmls = [submission(i) for i in range(size)]
        started = time.perf_counter()
        kept = 0
        for i, xml in enumerate(xmls):
            ctx = odata.Context(f"uuid:{i:08d}", f"Submissions('{i}')", expand=False, wkt=False)
            row = odata.submission_object(tree, xml, system, ctx)
            values = {p: odata.filter_value(k, odata.path_value(row, p)) for p, k in own.items()}
            values["__system/submissionDate"] = datetime(2026, 12, 1, tzinfo=UTC)
            kept += matches(node, values)
        elapsed = time.perf_counter() - started
        print(f"{size:>7} submissions: {elapsed:6.2f} s, {size / elapsed:8.0f} rows/s, {kept} kept")


if __name__ == "__main__":
    main()
