"""Building what a coordinator copies off a tablet: ODK Collect instance folders."""

from __future__ import annotations

import uuid
import zipfile
from pathlib import Path

SIMPLE_FORM = Path(__file__).resolve().parent.parent / "fixtures" / "simple_form.xml"


def instance_xml(
    instance_id: str,
    name: str = "HA-0001",
    photo: str | None = None,
    form_id: str = "simple",
    version: str = "1",
) -> bytes:
    photo_el = f"<photo>{photo}</photo>" if photo else "<photo/>"
    return (
        f'<?xml version="1.0"?>\n<data xmlns:orx="http://openrosa.org/xforms" id="{form_id}" '
        f'version="{version}"><name>{name}</name>{photo_el}'
        f"<orx:meta><orx:instanceID>{instance_id}</orx:instanceID>"
        f"<orx:deviceID>collect:tablet7</orx:deviceID></orx:meta></data>"
    ).encode()


def write_instance(
    instances: Path,
    name: str = "HA-0001",
    photo: bytes | None = None,
    instance_id: str | None = None,
    folder: str | None = None,
) -> tuple[str, Path]:
    """An instance folder ``simple_<n>/simple_<n>.xml`` (plus ``photo.jpg``) under
    ``instances``; returns its instanceID and folder."""
    instance_id = instance_id or f"uuid:{uuid.uuid4()}"
    folder = folder or f"simple_{instance_id[-12:]}"
    target = instances / folder
    target.mkdir(parents=True, exist_ok=True)
    photo_name = "photo.jpg" if photo is not None else None
    (target / f"{folder}.xml").write_bytes(instance_xml(instance_id, name, photo_name))
    if photo is not None:
        (target / "photo.jpg").write_bytes(photo)
    return instance_id, target


def zip_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder.parent).as_posix())
    return archive
