"""The bundle file on its own: written and read back, and every way a file can be wrong refused
before anything is read out of it."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from server.bundles import crypto
from server.bundles import format as fmt
from server.bundles.crypto import KeyPair, PublicKeys
from server.errors import Problem


def _contents(photo: bytes = b"\xff\xd8photo" * 1000) -> fmt.Contents:
    return fmt.Contents(
        kind=fmt.OUTBOX,
        project_id=7,
        body={"submissions": [{"client_id": "1", "xml": "items/1.xml"}]},
        files={
            "items/1.xml": lambda: io.BytesIO(b"<data id='eore_session'/>"),
            "blobs/photo": lambda: io.BytesIO(photo),
        },
    )


def _open(path: Path, sender: KeyPair, recipient: KeyPair, project: int = 7) -> fmt.Opened:
    def lookup(key_id: str) -> PublicKeys:
        if key_id != sender.public.key_id:
            raise AssertionError("asked for another key")
        return sender.public

    return fmt.open_bundle(
        path, sender_key=lookup, recipient=recipient, project_id=project, workdir=path.parent
    )


@pytest.fixture
def pair() -> tuple[KeyPair, KeyPair]:
    return KeyPair.generate(), KeyPair.generate()


def test_a_bundle_round_trips_and_hides_its_content(tmp_path: Path, pair) -> None:
    sender, recipient = pair
    out = tmp_path / "camp.fsb"
    written = fmt.write_bundle(
        out, _contents(), sender, recipient.public, sender_info={"hub_id": "A"}
    )
    assert written.path == out and out.stat().st_size == written.size
    raw = out.read_bytes()
    assert b"eore_session" not in raw and b"photo" not in raw
    assert [p.name for p in tmp_path.iterdir()] == ["camp.fsb"]  # no temporary file left
    opened = _open(out, sender, recipient)
    try:
        assert opened.read("items/1.xml") == b"<data id='eore_session'/>"
        assert opened.read("blobs/photo") == b"\xff\xd8photo" * 1000
        assert opened.manifest["sender"] == {"hub_id": "A", "key_id": sender.public.key_id}
        assert opened.manifest["submissions"][0]["client_id"] == "1"
    finally:
        opened.close()


def test_a_changed_byte_anywhere_is_refused(tmp_path: Path, pair) -> None:
    sender, recipient = pair
    out = tmp_path / "camp.fsb"
    fmt.write_bundle(out, _contents(), sender, recipient.public)
    good = out.read_bytes()
    # Every byte of the envelope, the zip structure and the signature, and a spread of the
    # payload's.
    positions = sorted(
        set(range(0, 1200))
        | set(range(len(good) - 400, len(good)))
        | set(range(1200, len(good) - 400, 97))
    )
    for position in positions:
        bad = bytearray(good)
        bad[position] ^= 0x01
        out.write_bytes(bytes(bad))
        with pytest.raises(Problem) as refused:
            _open(out, sender, recipient).close()
        assert refused.value.code.startswith("bundle."), (position, refused.value.code)


def test_cut_short_at_any_length_is_refused_as_truncated(tmp_path: Path, pair) -> None:
    sender, recipient = pair
    out = tmp_path / "camp.fsb"
    fmt.write_bundle(out, _contents(), sender, recipient.public)
    good = out.read_bytes()
    for length in (len(good) - 1, len(good) - 100, len(good) // 2, 200):
        out.write_bytes(good[:length])
        with pytest.raises(Problem) as refused:
            _open(out, sender, recipient)
        assert refused.value.code == "bundle.truncated", length


def test_other_project_other_recipient_other_signer_and_newer_format(tmp_path: Path, pair) -> None:
    sender, recipient = pair
    out = tmp_path / "camp.fsb"
    fmt.write_bundle(out, _contents(), sender, recipient.public)
    with pytest.raises(Problem) as refused:
        _open(out, sender, recipient, project=8)
    assert refused.value.code == "bundle.wrong_project"
    with pytest.raises(Problem) as refused:
        _open(out, sender, KeyPair.generate())
    assert refused.value.code == "bundle.wrong_recipient"
    impostor = KeyPair.generate()
    with pytest.raises(Problem) as refused:
        fmt.open_bundle(
            out, sender_key=lambda _k: impostor.public, recipient=recipient, project_id=7
        )
    assert refused.value.code == "bundle.bad_signature"

    newer = tmp_path / "newer.fsb"
    with zipfile.ZipFile(out) as source, zipfile.ZipFile(newer, "w") as target:
        envelope = json.loads(source.read("envelope.json"))
        envelope["format_version"] = fmt.FORMAT_VERSION + 1
        target.writestr("envelope.json", json.dumps(envelope))
        target.writestr("payload.bin", source.read("payload.bin"))
    with pytest.raises(Problem) as refused:
        _open(newer, sender, recipient)
    assert refused.value.code == "bundle.unsupported_version"
    assert "newer fieldsync" in refused.value.detail

    with pytest.raises(Problem) as refused:
        (tmp_path / "notes.fsb").write_text("not a bundle")
        _open(tmp_path / "notes.fsb", sender, recipient)
    assert refused.value.code == "bundle.damaged"


def test_a_signed_bundle_whose_file_hash_is_wrong_is_refused(
    tmp_path: Path, pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender, recipient = pair
    out = tmp_path / "camp.fsb"
    real_writestr = zipfile.ZipFile.writestr

    def lying_manifest(self: zipfile.ZipFile, name: object, data: object, *args: object) -> None:
        # A broken (or malicious) sender lists a wrong hash for the photo, and signs it.
        if name == "manifest.json":
            manifest = json.loads(str(data))
            manifest["files"]["blobs/photo"] = "0" * 64
            data = json.dumps(manifest)
        real_writestr(self, name, data, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile.ZipFile, "writestr", lying_manifest)
    fmt.write_bundle(out, _contents(), sender, recipient.public)
    monkeypatch.undo()
    with pytest.raises(Problem) as refused:
        _open(out, sender, recipient)
    assert refused.value.code == "bundle.hash_mismatch"
    assert "blobs/photo" in refused.value.detail


def test_a_full_disk_leaves_no_file_that_looks_like_a_bundle(
    tmp_path: Path, pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender, recipient = pair
    out = tmp_path / "usb" / "camp.fsb"

    def full(*_args: object, **_kwargs: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(crypto, "encrypt_stream", full)
    with pytest.raises(OSError):
        fmt.write_bundle(out, _contents(), sender, recipient.public)
    assert list((tmp_path / "usb").iterdir()) == []


def test_the_private_keys_are_protected_by_the_passphrase() -> None:
    pair = KeyPair.generate()
    sign_pem, enc_pem = pair.to_pem(b"correct horse")
    assert b"ENCRYPTED" in sign_pem and b"ENCRYPTED" in enc_pem
    with pytest.raises((TypeError, ValueError)):
        KeyPair.from_pem(sign_pem, enc_pem, b"wrong")
    assert KeyPair.from_pem(sign_pem, enc_pem, b"correct horse").public == pair.public
