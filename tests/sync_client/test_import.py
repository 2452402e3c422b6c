"""Importing what was copied off tablets: instances folders, one folder, zips, junk, duplicates."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from sync_client.errors import UsageError
from sync_client.importing import import_path
from sync_client.instances import FoundInstance
from sync_client.outbox import AddOutcome
from sync_client.store import Store
from tests.sync_client.odk import instance_xml, write_instance, zip_folder


def queued(store: Store) -> dict[str, list[tuple[str, str]]]:
    """instanceID -> [(attachment name, sha256)] for everything in the outbox."""
    result: dict[str, list[tuple[str, str]]] = {}
    for instance_id, item_id in store.conn.execute("SELECT instance_id, id FROM outbox"):
        result[instance_id] = [
            (n, s)
            for n, s in store.conn.execute(
                "SELECT name, sha256 FROM outbox_attachments WHERE outbox_id = ? ORDER BY name",
                (item_id,),
            )
        ]
    return result


def test_instances_folder_queues_each_instance_with_its_photo(store: Store, tmp_path: Path) -> None:
    instances = tmp_path / "instances"
    first, _ = write_instance(instances, "HA-0001", photo=b"jpeg-one")
    second, _ = write_instance(instances, "HA-0002", photo=b"jpeg-two")
    third, _ = write_instance(instances, "HA-0003")
    report = import_path(store, instances, 1, "laptop-1")
    assert report.imported == 3
    assert report.attachments == 2
    assert report.skipped == []
    items = queued(store)
    assert items[first] == [("photo.jpg", hashlib.sha256(b"jpeg-one").hexdigest())]
    assert items[second] == [("photo.jpg", hashlib.sha256(b"jpeg-two").hexdigest())]
    assert items[third] == []
    # the photo was copied into the store, so the tablet folder may be deleted
    with store.open_blob(hashlib.sha256(b"jpeg-one").hexdigest()) as fh:
        assert fh.read() == b"jpeg-one"


def test_one_instance_folder(store: Store, tmp_path: Path) -> None:
    instance_id, folder = write_instance(tmp_path / "instances", photo=b"p")
    report = import_path(store, folder, None, "laptop-1")
    assert report.imported == 1
    assert list(queued(store)) == [instance_id]
    row = store.conn.execute("SELECT project_id, form_id, form_version FROM outbox").fetchone()
    assert row == (None, "simple", "1")


def test_zip_of_instances(store: Store, tmp_path: Path) -> None:
    instances = tmp_path / "instances"
    ids = {write_instance(instances, f"HA-{i}", photo=f"img{i}".encode())[0] for i in range(4)}
    archive = zip_folder(instances, tmp_path / "from-tablet.zip")
    report = import_path(store, archive, 1, "laptop-1")
    assert report.imported == 4
    assert set(queued(store)) == ids
    assert all(len(a) == 1 for a in queued(store).values())


def test_junk_files_are_reported_and_skipped(store: Store, tmp_path: Path) -> None:
    instances = tmp_path / "instances"
    good, folder = write_instance(instances, photo=b"photo")
    (instances / "notes.txt").write_text("call the team leader")
    (instances / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "stray.txt").write_text("not named by the form")
    broken = instances / "broken_1"
    broken.mkdir()
    (broken / "broken_1.xml").write_text("<data id='simple'><name>cut off")
    no_meta = instances / "draft_1"
    no_meta.mkdir()
    (no_meta / "draft_1.xml").write_text("<data id='simple'><name>x</name></data>")
    no_id = instances / "other_1"
    no_id.mkdir()
    (no_id / "other_1.xml").write_text(
        "<settings><meta><instanceID>u</instanceID></meta></settings>"
    )
    hostile = instances / "hostile_1"
    hostile.mkdir()
    (hostile / "hostile_1.xml").write_text(
        '<!DOCTYPE d [<!ENTITY x "y">]>'
        '<data id="s"><meta><instanceID>u:1</instanceID></meta></data>'
    )

    report = import_path(store, instances, 1, "laptop-1")

    assert report.imported == 1
    assert list(queued(store)) == [good]
    reasons = {Path(s.display.split("!")[-1]).name: s.reason for s in report.skipped}
    assert reasons["notes.txt"] == "not part of an ODK instance"
    assert "operating-system" in reasons[".DS_Store"]
    assert reasons["stray.txt"] == "not referenced by the instance in its folder"
    assert reasons["broken_1.xml"].startswith("broken XML")
    assert "meta/instanceID" in reasons["draft_1.xml"]
    assert "no id attribute" in reasons["other_1.xml"]
    assert "DOCTYPE" in reasons["hostile_1.xml"]


def test_reimport_is_deduplicated_by_instance_id(store: Store, tmp_path: Path) -> None:
    instances = tmp_path / "instances"
    for i in range(3):
        write_instance(instances, f"HA-{i}", photo=b"same photo")
    assert import_path(store, instances, 1, "laptop-1").imported == 3
    again = import_path(store, zip_folder(instances, tmp_path / "copy.zip"), 1, "laptop-1")
    assert again.imported == 0
    assert again.counts[AddOutcome.ALREADY] == 3
    assert store.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 3
    # one photo shared by three forms is stored once
    assert store.conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0] == 1


def test_same_instance_id_with_other_content_keeps_the_first(store: Store, tmp_path: Path) -> None:
    instance_id, folder = write_instance(tmp_path / "a", "first")
    import_path(store, folder, 1, "laptop-1")
    _, other = write_instance(tmp_path / "b", "second", instance_id=instance_id)
    report = import_path(store, other, 1, "laptop-1")
    assert report.counts[AddOutcome.DIFFERS] == 1
    assert instance_id in report.differs[0]
    body = store.conn.execute("SELECT body FROM outbox").fetchone()[0]
    assert b"<name>first</name>" in body


def test_a_zip_holding_one_bare_instance_file(store: Store, tmp_path: Path) -> None:
    archive = tmp_path / "one.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("simple_x.xml", instance_xml("uuid:bare", photo="p.jpg"))
        zf.writestr("p.jpg", b"pic")
        zf.writestr("__MACOSX/._simple_x.xml", b"junk")
    report = import_path(store, archive, 1, "laptop-1")
    assert report.imported == 1
    assert queued(store)["uuid:bare"] == [("p.jpg", hashlib.sha256(b"pic").hexdigest())]
    assert [s.reason for s in report.skipped] == ["operating-system file, not part of a form"]


def test_provenance_names_the_tablet_and_this_laptop(store: Store, tmp_path: Path) -> None:
    import json

    _, folder = write_instance(tmp_path / "i")
    import_path(store, folder, 1, "laptop-camp-3")
    via = json.loads(store.conn.execute("SELECT via FROM outbox").fetchone()[0])
    assert [(h["hop"], h["id"]) for h in via] == [
        ("device", "collect:tablet7"),
        ("hub", "laptop-camp-3"),
    ]
    assert all(h["received_at"].endswith("Z") for h in via)


def test_paths_that_are_not_folders_or_zips_are_usage_errors(store: Store, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        import_path(store, tmp_path / "nope", 1, "l")
    text = tmp_path / "a.txt"
    text.write_text("hello")
    with pytest.raises(UsageError, match="neither a folder nor a zip"):
        import_path(store, text, 1, "l")


def test_an_import_cut_short_keeps_what_it_committed(store: Store, tmp_path: Path) -> None:
    instances = tmp_path / "instances"
    ids = [write_instance(instances, f"HA-{i}", photo=f"p{i}".encode())[0] for i in range(5)]
    committed: list[str] = []

    def stop_after_first_group(group: list[FoundInstance]) -> None:
        committed.extend(found.instance_id for found in group)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_path(store, instances, 1, "l", on_commit=stop_after_first_group, group_size=2)
    assert len(committed) == 2
    assert set(queued(store)) == set(committed)
    rerun = import_path(store, instances, 1, "l", group_size=2)
    assert rerun.imported == 3
    assert rerun.counts[AddOutcome.ALREADY] == 2
    assert set(queued(store)) == set(ids)
