"""The cryptography of bundles, all of it from the ``cryptography`` library (docs/adr/0020).

A holder of bundles (a laptop, or a project at the centre) has two key pairs: Ed25519 to sign
what it sends, X25519 to receive. A bundle's content is encrypted with a fresh AES-256-GCM key
in 1 MiB segments (age's STREAM construction: the segment number and a last-segment flag are in
the nonce, so a cut, reordered or spliced payload fails to decrypt); that key is wrapped for the
recipient with an ephemeral X25519 exchange and HKDF-SHA256.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEGMENT = 1024 * 1024
TAG = 16
WRAP_INFO = b"fieldsync-bundle key wrap v1"
_RAW = serialization.PublicFormat.Raw
_RAW_ENC = serialization.Encoding.Raw


class DecryptFailed(Exception):
    """The payload or the wrapped key does not decrypt: damaged, cut short, or not for us."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(frozen=True)
class PublicKeys:
    """What others need to send to a holder and to check what it signed."""

    sign: bytes  # Ed25519, raw 32 bytes
    enc: bytes  # X25519, raw 32 bytes

    @property
    def key_id(self) -> str:
        return key_id(self.sign, self.enc)

    def to_json(self) -> dict[str, str]:
        return {"key_id": self.key_id, "sign_public": b64(self.sign), "enc_public": b64(self.enc)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> PublicKeys:
        """Raises: ValueError when the keys are missing, malformed, or do not match ``key_id``."""
        try:
            keys = cls(unb64(str(data["sign_public"])), unb64(str(data["enc_public"])))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"not a public key pair ({exc})") from exc
        if len(keys.sign) != 32 or len(keys.enc) != 32:
            raise ValueError("a public key is not 32 bytes")
        if "key_id" in data and data["key_id"] != keys.key_id:
            raise ValueError("the key id does not match the keys")
        return keys


def key_id(sign: bytes, enc: bytes) -> str:
    """A holder's fingerprint: both public keys are bound into it."""
    return hashlib.sha256(b"fieldsync-key v1\x00" + sign + enc).hexdigest()[:32]


@dataclass(frozen=True)
class KeyPair:
    sign: Ed25519PrivateKey
    enc: X25519PrivateKey

    @classmethod
    def generate(cls) -> KeyPair:
        return cls(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

    @property
    def public(self) -> PublicKeys:
        return PublicKeys(
            self.sign.public_key().public_bytes(_RAW_ENC, _RAW),
            self.enc.public_key().public_bytes(_RAW_ENC, _RAW),
        )

    def to_pem(self, passphrase: bytes | None) -> tuple[bytes, bytes]:
        """Both private keys as PKCS#8 PEM, encrypted with ``passphrase`` when given."""
        protection: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        pem = serialization.Encoding.PEM
        pkcs8 = serialization.PrivateFormat.PKCS8
        return (
            self.sign.private_bytes(pem, pkcs8, protection),
            self.enc.private_bytes(pem, pkcs8, protection),
        )

    @classmethod
    def from_pem(cls, sign_pem: bytes, enc_pem: bytes, passphrase: bytes | None) -> KeyPair:
        """Raises: ValueError (wrong passphrase, damaged file), TypeError (passphrase needed)."""
        sign = serialization.load_pem_private_key(sign_pem, passphrase)
        enc = serialization.load_pem_private_key(enc_pem, passphrase)
        if not isinstance(sign, Ed25519PrivateKey) or not isinstance(enc, X25519PrivateKey):
            raise ValueError("the key files do not hold an Ed25519 and an X25519 key")
        return cls(sign, enc)


def sign(keys: KeyPair, message: bytes) -> bytes:
    return keys.sign.sign(message)


def verify(public: PublicKeys, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public.sign).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- the content key, wrapped for the recipient ---------------------------------------------


def _wrapping_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=WRAP_INFO
    ).derive(shared)


def wrap_key(content_key: bytes, recipient: PublicKeys) -> dict[str, str]:
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(_RAW_ENC, _RAW)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient.enc))
    nonce = os.urandom(12)
    wrapped = AESGCM(_wrapping_key(shared, ephemeral_public, recipient.enc)).encrypt(
        nonce, content_key, recipient.key_id.encode()
    )
    return {
        "alg": "X25519-HKDF-SHA256-A256GCM",
        "ephemeral": b64(ephemeral_public),
        "nonce": b64(nonce),
        "wrapped": b64(wrapped),
    }


def unwrap_key(stanza: dict[str, str], keys: KeyPair) -> bytes:
    """Raises: DecryptFailed."""
    try:
        ephemeral_public = unb64(stanza["ephemeral"])
        shared = keys.enc.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        mine = keys.public
        return AESGCM(_wrapping_key(shared, ephemeral_public, mine.enc)).decrypt(
            unb64(stanza["nonce"]), unb64(stanza["wrapped"]), mine.key_id.encode()
        )
    except (KeyError, ValueError, InvalidTag) as exc:
        raise DecryptFailed("the bundle's key cannot be unwrapped with this key") from exc


# --- the payload, in segments -----------------------------------------------------------------


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def encrypt_stream(key: bytes, source: IO[bytes], out: IO[bytes], aad: bytes) -> int:
    """Encrypt ``source`` into ``out`` segment by segment; returns the bytes written."""
    cipher = AESGCM(key)
    written = 0
    index = 0
    chunk = source.read(SEGMENT)
    while True:
        following = source.read(SEGMENT)
        last = not following
        sealed = cipher.encrypt(_nonce(index, last), chunk, aad)
        out.write(sealed)
        written += len(sealed)
        if last:
            return written
        chunk = following
        index += 1


def decrypt_stream(key: bytes, source: IO[bytes], aad: bytes) -> Iterator[bytes]:
    """The plaintext of ``source``, segment by segment.

    Raises:
        DecryptFailed: a segment was changed, dropped, reordered, or the last one is missing.
    """
    cipher = AESGCM(key)
    index = 0
    sealed = source.read(SEGMENT + TAG)
    while True:
        following = source.read(SEGMENT + TAG)
        last = not following
        try:
            yield cipher.decrypt(_nonce(index, last), sealed, aad)
        except InvalidTag as exc:
            raise DecryptFailed(f"segment {index} of the payload does not decrypt") from exc
        if last:
            return
        sealed = following
        index += 1
