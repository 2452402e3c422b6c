"""One caller's view of one form's submissions or one entity list: what every route that can
carry personal data asks before it answers."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from server.personal import consent
from server.personal.access import Access
from server.personal.fields import is_personal_name, personal_answers, personal_paths
from server.personal.policy import ListSharing, sharing


@dataclass(frozen=True)
class FormGuard:
    """A caller's view of a form's submissions."""

    access: Access
    paths: frozenset[str]
    rule: ListSharing
    spec: Mapping[str, Any]
    stones: consent.Tombstones
    export: bool = False

    def xml(self, xml: str) -> str | None:
        """The submission as this caller may see it (personal answers emptied unless they may
        read them), or None when it is not shown to them at all (see :mod:`consent`)."""
        about = consent.submission_consent(xml, self.spec, self.rule)
        if not consent.submission_shown(self.access, about, self.stones, export=self.export):
            return None
        return consent.submission_xml_shown(self.access, xml, self.paths, about, self.stones)

    def shows_personal(self, xml: str) -> bool:
        """Whether :meth:`xml` gives this caller the personal answers (an audited read)."""
        about = consent.submission_consent(xml, self.spec, self.rule)
        withdrawn = about is not None and about.uuid in self.stones.withdrawn
        return self.access.may_read and not withdrawn

    def attachment_allowed(self, xml: str, name: str) -> bool:
        """A file named by a personal answer (a photo of a person, a consent signature) is a
        personal attachment: only for a caller who is shown personal answers."""
        if self.xml(xml) is None:
            return False
        if self.shows_personal(xml):
            return True
        return name not in personal_answers(xml, self.paths)


def form_guard(
    session: Session,
    access: Access,
    xforms: Iterable[str],
    spec: Mapping[str, Any],
    *,
    export: bool = False,
) -> FormGuard:
    """The guard for a form whose versions' XForms are ``xforms`` (their personal fields are
    taken together) and whose current entity declaration is ``spec``."""
    paths: frozenset[str] = frozenset().union(*(personal_paths(x) for x in xforms))
    list_name = str(spec.get("dataset") or "")
    rule = sharing(session, list_name) if list_name else ListSharing("")
    stones = (
        consent.tombstones(session, access.project_id, list_name)
        if rule.consent_bound
        else consent.Tombstones()
    )
    return FormGuard(access, paths, rule, spec, stones, export)


@dataclass(frozen=True)
class ListGuard:
    """A caller's view of an entity list."""

    access: Access
    rule: ListSharing
    personal: frozenset[str]
    stones: consent.Tombstones

    def shown(self, uuid: str, values: Mapping[str, str]) -> bool:
        return consent.record_shown(self.access, self.rule, uuid, values, self.stones)

    def values(self, uuid: str, values: Mapping[str, str]) -> dict[str, str]:
        return consent.values_shown(self.access, uuid, values, self.personal, self.stones)

    def property_shown(self, uuid: str, name: str | None) -> bool:
        """Whether a property's values (in a conflict, a version) are shown for the record."""
        if name is None or name not in self.personal:
            return True
        return self.access.may_read and uuid not in self.stones.withdrawn

    def shows_personal(self, uuid: str) -> bool:
        return bool(self.personal) and self.property_shown(uuid, next(iter(self.personal)))

    def withdrawn(self, uuid: str) -> bool:
        return uuid in self.stones.withdrawn


def list_guard(
    session: Session,
    access: Access,
    list_name: str,
    properties: Collection[str],
    saved_personal: Collection[str],
) -> ListGuard:
    """The guard of a list whose properties are ``properties``, of which ``saved_personal``
    were saved from personal fields of its forms."""
    rule = sharing(session, list_name)
    personal = frozenset(
        {*saved_personal, *rule.personal, *(p for p in properties if is_personal_name(p))}
    )
    return ListGuard(
        access, rule, personal, consent.tombstones(session, access.project_id, list_name)
    )
