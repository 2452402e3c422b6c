"""The pure core of ODK managed encryption (server/odk_encryption.py), without a server."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from server import odk_encryption as odk
from tests.encryption.collect import encrypt_submission

PASSPHRASE = "a long enough passphrase"


@pytest.fixture(scope="module")
def pair() -> odk.ProtectedKeyPair:
    return odk.generate_key_pair(PASSPHRASE, bits=2048, scrypt_n=2**12)


def test_the_private_key_opens_only_with_its_passphrase(pair: odk.ProtectedKeyPair) -> None:
    key = odk.unlock(pair.private_sealed, PASSPHRASE)
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert der not in pair.private_sealed  # sealed, not stored in clear
    with pytest.raises(odk.WrongPassphrase):
        odk.unlock(pair.private_sealed, PASSPHRASE + " ")
    with pytest.raises(odk.WrongPassphrase):
        odk.unlock(pair.private_sealed.replace(b"\n", b"\n\n", 1), PASSPHRASE)


def test_each_files_iv_increments_one_more_byte_of_the_seed() -> None:
    key = os.urandom(32)
    seed = hashlib.md5(b"uuid:abc" + key, usedforsecurity=False).digest()
    ivs = odk.file_ivs("uuid:abc", key, 20)
    previous = seed
    for i, iv in enumerate(ivs):
        changed = [n for n in range(16) if iv[n] != previous[n]]
        assert changed == [i % 16]
        assert iv[i % 16] == (previous[i % 16] + 1) % 256
        previous = iv


def test_a_manifest_without_its_key_or_with_clear_file_names_is_refused() -> None:
    ns = 'xmlns="http://opendatakit.org/submissions"'

    def read(body: str) -> odk.Manifest:
        root = etree.fromstring(f'<data {ns} encrypted="yes" id="f">{body}</data>'.encode())
        return odk.read_manifest(root, "uuid:1")

    with pytest.raises(odk.BadManifest, match="base64EncryptedKey"):
        read("<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>")
    with pytest.raises(odk.BadManifest, match=r"does not end in \.enc"):
        read(
            "<base64EncryptedKey>AA==</base64EncryptedKey>"
            "<media><file>photo.jpg</file></media>"
            "<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>"
        )
    manifest = read(
        "<base64EncryptedKey>AA==</base64EncryptedKey>"
        "<media><file>a.jpg.enc</file></media><media><file>b.m4a.enc</file></media>"
        "<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>"
    )
    assert manifest.files == ("a.jpg.enc", "b.m4a.enc", "submission.xml.enc")


def test_a_submission_opens_only_with_the_projects_key(pair: odk.ProtectedKeyPair) -> None:
    public = serialization.load_der_public_key(base64.b64decode(pair.public_b64))
    assert isinstance(public, rsa.RSAPublicKey)
    xml = (
        b'<data id="f" version="2"><x>secret</x><meta><instanceID>uuid:9</instanceID></meta></data>'
    )
    sent = encrypt_submission(public, "f", "2", "uuid:9", xml, {"a.jpg": b"photo"})
    manifest = odk.read_manifest(etree.fromstring(sent.manifest), "uuid:9")
    opened = odk.open_submission(
        odk.unlock(pair.private_sealed, PASSPHRASE), manifest, sent.files.get
    )
    assert opened.xml == xml
    assert opened.media == {"a.jpg": b"photo"}
    assert opened.signature_valid

    other = odk.generate_key_pair(PASSPHRASE, bits=2048, scrypt_n=2**12)
    with pytest.raises(odk.Undecryptable):
        odk.open_submission(odk.unlock(other.private_sealed, PASSPHRASE), manifest, sent.files.get)
    damaged = dict(sent.files, **{"submission.xml.enc": b"\x00" * 48})
    with pytest.raises(odk.Undecryptable):
        odk.open_submission(odk.unlock(pair.private_sealed, PASSPHRASE), manifest, damaged.get)
