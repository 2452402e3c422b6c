"""The options of an export, read from a request's query string (Central's names) or from the
command line, checked once, in one place."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from server import errors
from server.exports.filters import FilterError, Node, parse_filter


class ExportFormat(enum.StrEnum):
    CSV_ZIP = "csv.zip"
    CSV = "csv"
    XLSX = "xlsx"
    GEOJSON = "geojson"


@dataclass(frozen=True)
class ExportOptions:
    format: ExportFormat = ExportFormat.CSV_ZIP
    attachments: bool = True  # csv.zip: media/ files
    group_paths: bool = True
    split_select_multiples: bool = False
    deleted_fields: bool = False
    filter_text: str = ""
    filter: Node | None = None
    version: str | None = None
    geo_field: str | None = None  # geojson: the field placed on the map

    def key(self) -> str:
        """What identifies this export's content apart from the data (for the ETag)."""
        return "|".join(
            str(x)
            for x in (
                self.format.value,
                self.attachments,
                self.group_paths,
                self.split_select_multiples,
                self.deleted_fields,
                self.filter_text,
                self.version,
                self.geo_field,
            )
        )


def _flag(args: Mapping[str, str], name: str, default: bool) -> bool:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise errors.export_bad_option(name, raw, "true or false")


def parse_options(fmt: ExportFormat, args: Mapping[str, str]) -> ExportOptions:
    """Read ``attachments``, ``groupPaths``, ``splitSelectMultiples``, ``deletedFields``,
    ``$filter``, ``version`` and (GeoJSON) ``field``.

    Raises:
        Problem: 400 ``export.bad_option`` for a flag that is not true or false,
            400 ``export.bad_filter`` for a ``$filter`` that cannot be read.
    """
    filter_text = (args.get("$filter") or "").strip()
    node = None
    if filter_text:
        try:
            node = parse_filter(filter_text)
        except FilterError as exc:
            raise errors.export_bad_filter(str(exc)) from None
    version = args.get("version")
    if version is not None and not version.strip():
        raise errors.export_bad_option("version", version, "a form version string")
    geo_field = args.get("field")
    if geo_field is not None and fmt is not ExportFormat.GEOJSON:
        raise errors.export_bad_option("field", geo_field, "left out (it applies to GeoJSON)")
    return ExportOptions(
        format=fmt,
        attachments=_flag(args, "attachments", True),
        group_paths=_flag(args, "groupPaths", True),
        split_select_multiples=_flag(args, "splitSelectMultiples", False),
        deleted_fields=_flag(args, "deletedFields", False),
        filter_text=filter_text,
        filter=node,
        version=version,
        geo_field=geo_field,
    )
