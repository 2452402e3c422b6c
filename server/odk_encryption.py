"""ODK managed encryption, as pure functions over bytes: the project's key pair (the private key
protected by a passphrase), and opening a submission that ODK Collect or Enketo encrypted.

ODK's encryption specification: the device draws a 256-bit AES key, encrypts it with the form's
RSA public key (OAEP, SHA-256; Collect's MGF1 uses SHA-256, Enketo's SHA-1), and encrypts each
media file and then ``submission.xml`` with AES-256-CFB and PKCS#7 padding. The IVs come from
the MD5 of the instanceID and the AES key: before each file, one more byte of that seed is
incremented (byte ``i % 16`` for file ``i``). The manifest's ``base64EncryptedElementSignature``
is the RSA-encrypted MD5 of the form id, version, encrypted key, instanceID and ``name::md5`` of
each clear file, one per line. Every primitive comes from ``cryptography``; nothing here stores
or logs clear text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.modes import CFB  # ODK's mode, kept apart as legacy
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from lxml import etree

from server.xmlsafe import local_name

KEY_BITS = 3072
# scrypt's cost (N; r=8, p=1): the key that wraps the private key is derived from the
# passphrase with 2**17 rounds (128 MiB of memory, OWASP's recommendation), stored with it.
SCRYPT_N = 2**17
_WRAP_MAGIC = b"fieldsync-odk-key-v1"
MIN_PASSPHRASE = 10
ENC_SUFFIX = ".enc"


class WrongPassphrase(Exception):
    """The passphrase does not open the project's private key."""


class Undecryptable(Exception):
    """A submission's files cannot be decrypted with the key (damaged, or another key's)."""


@dataclass(frozen=True)
class ProtectedKeyPair:
    public_b64: str  # SubjectPublicKeyInfo, DER, base64: what base64RsaPublicKey carries
    private_sealed: bytes  # PKCS#8 sealed under the passphrase (see generate_key_pair)


def generate_key_pair(
    passphrase: str, bits: int = KEY_BITS, scrypt_n: int = SCRYPT_N
) -> ProtectedKeyPair:
    """A new RSA key pair whose private half only the passphrase opens.

    The private key (PKCS#8 DER) is sealed with AES-256-GCM under a key derived from the
    passphrase with scrypt and a random salt; the GCM tag makes a wrong passphrase certain.
    """
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    salt, nonce = os.urandom(16), os.urandom(12)
    sealed = AESGCM(_wrapping_key(passphrase, salt, scrypt_n)).encrypt(nonce, der, _WRAP_MAGIC)
    envelope = b"\n".join(
        [
            _WRAP_MAGIC,
            str(scrypt_n).encode("ascii"),
            base64.b64encode(salt),
            base64.b64encode(nonce),
            base64.b64encode(sealed),
        ]
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return ProtectedKeyPair(base64.b64encode(public).decode("ascii"), envelope)


def _wrapping_key(passphrase: str, salt: bytes, scrypt_n: int) -> bytes:
    kdf = Scrypt(salt=salt, length=32, n=scrypt_n, r=8, p=1)
    return kdf.derive(passphrase.encode("utf-8"))


def unlock(private_sealed: bytes, passphrase: str) -> rsa.RSAPrivateKey:
    """The private key, in memory only.

    Raises:
        WrongPassphrase: the passphrase does not open it.
    """
    try:
        magic, n, salt, nonce, sealed = private_sealed.split(b"\n")
        if magic != _WRAP_MAGIC:
            raise ValueError("not a fieldsync key")
        key = _wrapping_key(passphrase, base64.b64decode(salt), int(n))
        der = AESGCM(key).decrypt(base64.b64decode(nonce), base64.b64decode(sealed), magic)
        private = serialization.load_der_private_key(der, None)
    except (ValueError, InvalidTag, binascii.Error):
        raise WrongPassphrase() from None
    if not isinstance(private, rsa.RSAPrivateKey):
        raise WrongPassphrase()
    return private


# --- the submission manifest --------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """What the manifest (the ``xml_submission_file`` of an encrypted submission) says."""

    form_id: str
    version: str
    instance_id: str
    encrypted_key: str  # base64EncryptedKey
    xml_file: str  # encryptedXmlFile, normally submission.xml.enc
    media: tuple[str, ...] = ()  # media/file, in order: the order sets the IVs
    signature: str | None = None  # base64EncryptedElementSignature

    @property
    def files(self) -> tuple[str, ...]:
        """Every encrypted file, in encryption order (media first, the XML last)."""
        return (*self.media, self.xml_file)


class BadManifest(ValueError):
    """An ``encrypted="yes"`` instance that lacks what the specification requires."""


def is_manifest(root: etree._Element) -> bool:
    return (root.get("encrypted") or "").strip().lower() == "yes"


def read_manifest(root: etree._Element, instance_id: str) -> Manifest:
    """Read a parsed manifest.

    Raises:
        BadManifest: no encrypted key, no encrypted XML file, or a file name that is not
            ``*.enc``.
    """
    key = xml_file = signature = None
    media: list[str] = []
    for node in root:
        if not isinstance(node.tag, str):
            continue
        name = local_name(node)
        text = (node.text or "").strip()
        if name == "base64EncryptedKey":
            key = text
        elif name == "encryptedXmlFile":
            xml_file = text
        elif name == "base64EncryptedElementSignature":
            signature = text or None
        elif name == "media":
            media.extend(
                (f.text or "").strip()
                for f in node
                if isinstance(f.tag, str) and local_name(f) == "file" and (f.text or "").strip()
            )
    if not key:
        raise BadManifest("the encrypted submission has no base64EncryptedKey")
    if not xml_file:
        raise BadManifest("the encrypted submission has no encryptedXmlFile")
    for name in (*media, xml_file):
        if not name.endswith(ENC_SUFFIX) or name == ENC_SUFFIX:
            raise BadManifest(f"encrypted file {name!r} does not end in {ENC_SUFFIX}")
    return Manifest(
        form_id=root.get("id") or "",
        version=root.get("version") or "",
        instance_id=instance_id,
        encrypted_key=key,
        xml_file=xml_file,
        media=tuple(media),
        signature=signature,
    )


def clear_name(name: str) -> str:
    """``photo.jpg.enc`` -> ``photo.jpg``."""
    return name[: -len(ENC_SUFFIX)] if name.endswith(ENC_SUFFIX) else name


# --- opening a submission ------------------------------------------------------------------------


def _oaep(mgf_hash: hashes.HashAlgorithm) -> OAEP:
    return OAEP(mgf=MGF1(algorithm=mgf_hash), algorithm=hashes.SHA256(), label=None)


def rsa_open(private_key: rsa.RSAPrivateKey, data_b64: str) -> bytes:
    """RSA-OAEP (SHA-256) decryption of a base64 value, with Collect's MGF1-SHA-256 or
    Enketo's MGF1-SHA-1.

    Raises:
        Undecryptable: neither opens it (another key, or damaged).
    """
    try:
        data = base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError):
        raise Undecryptable("not base64") from None
    # SHA-1 only inside MGF1, as Enketo sends it; the OAEP hash is SHA-256 either way.
    for mgf_hash in (hashes.SHA256(), hashes.SHA1()):  # noqa: S303
        try:
            return private_key.decrypt(data, _oaep(mgf_hash))
        except ValueError:
            continue
    raise Undecryptable("the encrypted key does not open with this project's key")


def file_ivs(instance_id: str, symmetric_key: bytes, count: int) -> list[bytes]:
    """The IV of each file, in encryption order."""
    seed = bytearray(hashlib.md5(instance_id.encode("utf-8") + symmetric_key).digest())  # noqa: S324 (the specification fixes MD5)
    ivs = []
    for i in range(count):
        seed[i % 16] = (seed[i % 16] + 1) % 256
        ivs.append(bytes(seed))
    return ivs


def decrypt_file(symmetric_key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-256-CFB then PKCS#7 unpadding.

    Raises:
        Undecryptable: the padding is wrong (another key or IV, or a damaged file).
    """
    if len(symmetric_key) != 32:
        raise Undecryptable("the symmetric key is not 256 bits")
    decryptor = Cipher(algorithms.AES(symmetric_key), CFB(iv)).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise Undecryptable("the padding does not check out") from None


def signature_digest(manifest: Manifest, clear_files: list[tuple[str, bytes]]) -> bytes:
    """The MD5 the device encrypted into ``base64EncryptedElementSignature``."""
    lines = [manifest.form_id]
    if manifest.version:
        lines.append(manifest.version)
    lines += [manifest.encrypted_key, manifest.instance_id]
    # MD5 is what ODK's specification (and every device) uses here.
    lines += [f"{name}::{hashlib.md5(data).hexdigest()}" for name, data in clear_files]  # noqa: S324
    return hashlib.md5(("\n".join(lines) + "\n").encode("utf-8")).digest()  # noqa: S324


@dataclass
class OpenedSubmission:
    """A decrypted submission, in memory: the instance XML and the clear media by name."""

    xml: bytes
    media: dict[str, bytes] = field(default_factory=dict)
    signature_valid: bool = False


def open_submission(
    private_key: rsa.RSAPrivateKey,
    manifest: Manifest,
    read: Callable[[str], bytes | None],
    *,
    media: bool = True,
) -> OpenedSubmission:
    """Decrypt a submission whose encrypted files ``read(name)`` returns (None when missing).

    Without ``media`` the media files are decrypted only to check the signature, not kept.

    Raises:
        Undecryptable: the key does not open it, or a file is missing or damaged.
    """
    symmetric_key = rsa_open(private_key, manifest.encrypted_key)
    ivs = file_ivs(manifest.instance_id, symmetric_key, len(manifest.files))
    clear: list[tuple[str, bytes]] = []
    for name, iv in zip(manifest.files, ivs, strict=True):
        data = read(name)
        if data is None:
            raise Undecryptable(f"{name} has not arrived")
        clear.append((clear_name(name), decrypt_file(symmetric_key, iv, data)))
    valid = False
    if manifest.signature:
        try:
            claimed = rsa_open(private_key, manifest.signature)
        except Undecryptable:
            claimed = b""
        valid = hmac.compare_digest(claimed, signature_digest(manifest, clear))
    *files, (_xml_name, xml) = clear
    return OpenedSubmission(xml=xml, media=dict(files) if media else {}, signature_valid=valid)
