"""The random histories of the merge properties make what their comments say, as often as they
say: a property test whose generator rarely makes invalid values or decisions tests little.

Counted over many generated histories. Hypothesis does not draw independently (it favours simple
choices and reuses parts of earlier examples), so a rate is taken as "about" right within a
factor of two: wide enough never to fail by chance, narrow enough to catch a generator off by
a factor of three, as the invalid values once were (one in 22 to 43 instead of one in eight).
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, Phase, given, settings

from server.entities.merge import EntityUpdate, UpdateKind
from tests.entities.test_merge_properties import (
    DECISION_ONE_IN,
    DECISIONS,
    INVALID,
    INVALID_ONE_IN,
    LOST_BASE_ONE_IN,
    histories,
)

HISTORIES = 1000


def about(count: int, total: int, one_in: int) -> bool:
    return total > 0 and 1 / (2 * one_in) <= count / total <= 2 / one_in


def test_generator_rates_match_what_they_say() -> None:
    counts: Counter[str] = Counter()

    @settings(
        max_examples=HISTORIES,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(histories())
    def count(updates: list[EntityUpdate]) -> None:
        counts["histories"] += 1
        assert updates[0].kind is UpdateKind.CREATE
        for update in updates[1:]:
            counts["later updates"] += 1
            counts["decisions"] += update.kind in DECISIONS
            counts[str(update.kind)] += 1
            counts["lost bases"] += "lost-on-the-way" in update.base_ids
        for update in updates:
            for name, value in update.values.items():
                counts[f"name {name}"] += 1
                if INVALID.get(name) is not None:
                    counts["could be invalid"] += 1
                    counts["invalid"] += value == INVALID[name]

    count()

    assert counts["histories"] == HISTORIES
    assert about(counts["invalid"], counts["could be invalid"], INVALID_ONE_IN), counts
    assert about(counts["lost bases"], counts["later updates"], LOST_BASE_ONE_IN), counts
    assert about(counts["decisions"], counts["later updates"], DECISION_ONE_IN), counts
    # Half of the decisions each: both kinds are exercised.
    for kind in (UpdateKind.RESOLUTION, UpdateKind.REOPEN):
        assert about(counts[str(kind)], counts["later updates"], 2 * DECISION_ONE_IN), counts
    # "Sets and statuses are drawn more often."
    others = [n for n in counts if n.startswith("name ") and n not in ("name status", "name tags")]
    assert others
    for name in others:
        assert counts["name status"] > counts[name] and counts["name tags"] > counts[name], counts
