"""The causal structure of one entity's updates: a topological order and each update's past.

An update's past is every known update its author had seen, directly or through others; the
merge engine (:mod:`server.entities.merge_engine`) evaluates updates in this order.
"""

from __future__ import annotations

from collections.abc import Mapping

from server.entities.merge_types import CausalCycleError, EntityUpdate

__all__ = ["CausalHistory"]


class CausalHistory:
    """The known updates in causal order, with each one's past and direct parents.

    Raises CausalCycleError when updates name each other as seen.
    """

    def __init__(self, updates: Mapping[str, EntityUpdate]) -> None:
        self.updates = updates
        self.past: dict[str, frozenset[str]] = {}
        self._past_size: dict[str, int] = {}
        self.parents: dict[str, tuple[str, ...]] = {}
        self.order: list[str] = self._causal_order()

    def _causal_order(self) -> list[str]:
        """Topological order of the known updates; fills `past` and `parents`.
        Raises CausalCycleError."""
        order: list[str] = []
        active: set[str] = set()
        for root in sorted(self.updates):
            stack: list[tuple[str, bool]] = [(root, False)]
            while stack:
                uid, finished = stack.pop()
                if finished:
                    self._close_past(uid)
                    active.discard(uid)
                    order.append(uid)
                    continue
                if uid in self.past:
                    continue
                if uid in active:
                    raise CausalCycleError(f"update {uid!r} is in its own causal past")
                active.add(uid)
                stack.append((uid, True))
                for base in self.updates[uid].base_ids:
                    if base in self.updates and base not in self.past:
                        if base in active:
                            raise CausalCycleError(f"update {base!r} is in its own causal past")
                        stack.append((base, False))
        return order

    def _close_past(self, uid: str) -> None:
        # Largest pasts first: a base already covered is an ancestor of another base, so only
        # the direct parents are kept and each past is built in near-linear time.
        bases = sorted(
            (b for b in self.updates[uid].base_ids if b in self.updates),
            key=self._past_size.__getitem__,
            reverse=True,
        )
        past: set[str] = set()
        parents: list[str] = []
        for base in bases:
            if base not in past:
                parents.append(base)
                past.add(base)
                past |= self.past[base]
        self.past[uid] = frozenset(past)
        self._past_size[uid] = len(past)
        self.parents[uid] = tuple(sorted(parents))

    def maximal(self, candidates: frozenset[str]) -> frozenset[str]:
        if len(candidates) < 2:
            return candidates
        if len(candidates) < 5:
            return frozenset(
                c for c in candidates if not any(c in self.past[d] for d in candidates if d != c)
            )
        # Many concurrent candidates (teams all working from one download): one pass over
        # their pasts instead of comparing every pair.
        dominated: set[str] = set()
        for candidate in candidates:
            dominated.update(self.past[candidate])
        return candidates - dominated
