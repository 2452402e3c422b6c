# ruff: noqa: S303, S324 -- MD5 and MGF1-SHA-1 are what ODK devices use; this is a device.
"""A submission encrypted the way ODK Collect encrypts one (its EncryptionUtils), written for the
tests from ODK's encryption specification and independently of the server's code, so a mistake
on one side is not mirrored on the other.

Collect: a random 256-bit AES key; RSA/NONE/OAEPWithSHA256AndMGF1Padding (Bouncy Castle: SHA-256
for OAEP and for MGF1) for the key; AES/CFB/PKCS5Padding for each media file in order, then for
submission.xml, each with the next IV (the MD5 of instanceID + key, one more byte incremented per
file); the manifest's signature is the RSA-encrypted MD5 of form id, version, encrypted key,
instanceID and ``name::md5`` of each clear file, each followed by a newline.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass, field

from cryptography.hazmat.decrepit.ciphers.modes import CFB  # ODK's mode, kept apart as legacy
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

SUBMISSIONS_NS = "http://opendatakit.org/submissions"
ORX_NS = "http://openrosa.org/xforms"


def public_key_from_xform(xform: str) -> rsa.RSAPublicKey:
    """The key a device reads from the form's ``<submission base64RsaPublicKey=...>``."""
    match = re.search(r'<(?:\w+:)?submission\b[^>]*\bbase64RsaPublicKey="([A-Za-z0-9+/=]+)"', xform)
    assert match, "the XForm's <submission> element carries no base64RsaPublicKey"
    key = serialization.load_der_public_key(base64.b64decode(match.group(1)))
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def _rsa(public_key: rsa.RSAPublicKey, data: bytes, mgf_sha1: bool = False) -> str:
    mgf = MGF1(hashes.SHA1() if mgf_sha1 else hashes.SHA256())
    encrypted = public_key.encrypt(data, OAEP(mgf=mgf, algorithm=hashes.SHA256(), label=None))
    return base64.b64encode(encrypted).decode("ascii")


def _aes_cfb(key: bytes, iv: bytes, data: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), CFB(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


@dataclass
class EncryptedSubmission:
    manifest: bytes  # sent as xml_submission_file
    files: dict[str, bytes] = field(default_factory=dict)  # name.enc -> ciphertext
    symmetric_key: bytes = b""


def encrypt_submission(
    public_key: rsa.RSAPublicKey,
    form_id: str,
    version: str,
    instance_id: str,
    xml: bytes,
    media: dict[str, bytes] | None = None,
    *,
    mgf_sha1: bool = False,
    tamper_signature: bool = False,
) -> EncryptedSubmission:
    """Encrypt an instance and its media as Collect does (Enketo with ``mgf_sha1``)."""
    media = media or {}
    key = os.urandom(32)
    encrypted_key = _rsa(public_key, key, mgf_sha1)
    seed = list(hashlib.md5(instance_id.encode("utf-8") + key).digest())
    files: dict[str, bytes] = {}
    signed = (
        [form_id, version, encrypted_key, instance_id]
        if version
        else [
            form_id,
            encrypted_key,
            instance_id,
        ]
    )
    order = [*media.items(), ("submission.xml", xml)]
    for counter, (name, clear) in enumerate(order):
        seed[counter % 16] = (seed[counter % 16] + 1) & 0xFF
        files[f"{name}.enc"] = _aes_cfb(key, bytes(seed), clear)
        signed.append(f"{name}::{hashlib.md5(clear).hexdigest()}")
    if tamper_signature:
        signed[-1] = "submission.xml::" + "0" * 32
    digest = hashlib.md5(("\n".join(signed) + "\n").encode("utf-8")).digest()
    signature = _rsa(public_key, digest, mgf_sha1)
    media_xml = "".join(f"<media><file>{name}.enc</file></media>" for name in media)
    version_attr = f' version="{version}"' if version else ""
    manifest = (
        f'<data xmlns="{SUBMISSIONS_NS}" encrypted="yes" id="{form_id}"{version_attr}>'
        f"<base64EncryptedKey>{encrypted_key}</base64EncryptedKey>"
        f'<meta xmlns="{ORX_NS}"><instanceID>{instance_id}</instanceID></meta>'
        f"{media_xml}"
        "<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>"
        f"<base64EncryptedElementSignature>{signature}</base64EncryptedElementSignature>"
        "</data>"
    ).encode()
    return EncryptedSubmission(manifest=manifest, files=files, symmetric_key=key)
