"""The laptop's keys for bundles, and the keys it trusts.

``FIELDSYNC_HOME/keys/`` (owner-only) holds this laptop's Ed25519 and X25519 private keys (PEM,
encrypted with ``FIELDSYNC_KEY_PASSPHRASE`` when it is set), the centre's public key for each
project (pinned the first time it is fetched: a different one later is refused), and the keys
of the project's other laptops as the centre lists them (with revocations), for peer bundles.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync_client.errors import FieldsyncError, StoreError, UsageError
from sync_client.home import ensure_private_dir

if TYPE_CHECKING:
    from server.bundles.crypto import KeyPair, PublicKeys
    from sync_client.http import Api

KEYS_DIR = "keys"
SIGN_FILE = "laptop-sign.pem"
ENC_FILE = "laptop-enc.pem"
PEERS_FILE = "peers.json"
PASSPHRASE_ENV = "FIELDSYNC_KEY_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
EXIT_BUNDLE = 9


class BundleError(FieldsyncError):
    """A bundle was refused (damaged, cut short, unknown or revoked key, bad signature, wrong
    project): nothing was applied."""

    exit_code = EXIT_BUNDLE
    label = "bundle"


def keys_dir(home: Path) -> Path:
    return home / KEYS_DIR


def _passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV, "")
    return value.encode("utf-8") if value else None


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def has_keys(home: Path) -> bool:
    return (keys_dir(home) / SIGN_FILE).exists()


def init_keys(home: Path, *, new: bool = False) -> tuple[PublicKeys, bool]:
    """This laptop's public keys, made now if there are none (or ``new``); True when made.

    Raises:
        StoreError: the key files cannot be written.
    """
    from server.bundles.crypto import KeyPair

    if has_keys(home) and not new:
        return load_keys(home).public, False
    directory = ensure_private_dir(keys_dir(home))
    pair = KeyPair.generate()
    sign_pem, enc_pem = pair.to_pem(_passphrase())
    try:
        _write_private(directory / ENC_FILE, enc_pem)
        _write_private(directory / SIGN_FILE, sign_pem)
    except OSError as exc:
        raise StoreError(f"cannot write the keys in {directory}: {exc.strerror or exc}") from exc
    return pair.public, True


def load_keys(home: Path) -> KeyPair:
    """Raises: UsageError when there is no key or it cannot be opened (passphrase)."""
    from server.bundles.crypto import KeyPair

    directory = keys_dir(home)
    try:
        sign_pem = (directory / SIGN_FILE).read_bytes()
        enc_pem = (directory / ENC_FILE).read_bytes()
    except FileNotFoundError:
        raise UsageError("this laptop has no key yet: run `fieldsync keys init`") from None
    try:
        return KeyPair.from_pem(sign_pem, enc_pem, _passphrase())
    except (TypeError, ValueError):
        raise UsageError(
            f"the laptop's key cannot be opened: set {PASSPHRASE_ENV} to its passphrase"
        ) from None


# --- the centre's key, pinned ------------------------------------------------------------------


def _centre_file(home: Path, project_id: int) -> Path:
    return keys_dir(home) / f"centre-project-{project_id}.json"


def centre_key(home: Path, project_id: int) -> PublicKeys | None:
    from server.bundles.crypto import PublicKeys

    path = _centre_file(home, project_id)
    if not path.exists():
        return None
    return PublicKeys.from_json(json.loads(path.read_text(encoding="utf-8")))


def pin_centre_key(home: Path, project_id: int, data: dict[str, Any]) -> PublicKeys:
    """Pin the centre's key for a project (the first time), or check it is the pinned one.

    Raises:
        BundleError: the centre answers with another key than the one pinned.
        ServerError-like UsageError: the answer is not a key.
    """
    from server.bundles.crypto import PublicKeys

    try:
        offered = PublicKeys.from_json(data)
    except ValueError as exc:
        raise UsageError(f"the centre's bundle key is not valid ({exc})") from None
    pinned = centre_key(home, project_id)
    if pinned is not None and pinned.key_id != offered.key_id:
        raise BundleError(
            f"the centre now shows another bundle key ({offered.key_id}) than the one this laptop "
            f"pinned ({pinned.key_id}); ask the centre's administrator before trusting it (to "
            f"accept it, delete {_centre_file(home, project_id)})"
        )
    if pinned is None:
        ensure_private_dir(keys_dir(home))
        _write_private(_centre_file(home, project_id), json.dumps(offered.to_json()).encode())
    return offered


# --- other laptops ---------------------------------------------------------------------------


def peers(home: Path) -> dict[str, dict[str, Any]]:
    path = keys_dir(home) / PEERS_FILE
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def save_peers(home: Path, known: dict[str, dict[str, Any]]) -> None:
    ensure_private_dir(keys_dir(home))
    _write_private(keys_dir(home) / PEERS_FILE, json.dumps(known, indent=1).encode())


def trust(home: Path, data: dict[str, Any], label: str = "", source: str = "manual") -> str:
    """Add a laptop's public keys to those trusted; its key id.

    Raises: UsageError for what is not a key pair."""
    from server.bundles.crypto import PublicKeys

    try:
        public = PublicKeys.from_json(data)
    except ValueError as exc:
        raise UsageError(f"not a fieldsync public key ({exc})") from None
    known = peers(home)
    entry = known.get(public.key_id, {})
    if entry.get("revoked"):
        raise UsageError(f"key {public.key_id} was revoked at the centre; it cannot be trusted")
    known[public.key_id] = {
        **public.to_json(),
        "label": label or str(data.get("label") or entry.get("label") or ""),
        "revoked": False,
        "source": source,
    }
    save_peers(home, known)
    return public.key_id


def peer_key(home: Path, key_id: str) -> PublicKeys:
    """A trusted laptop's keys.

    Raises: BundleError (unknown or revoked key)."""
    from server.bundles.crypto import PublicKeys

    entry = peers(home).get(key_id)
    if entry is None:
        raise BundleError(
            f"bundle refused: it is signed by key {key_id}, which this laptop does not know "
            "(run `fieldsync pull` with a link to learn the project's laptops, or `fieldsync keys "
            "trust FILE` with the other laptop's `fieldsync keys show --json`)"
        )
    if entry.get("revoked"):
        raise BundleError(
            f"bundle refused: key {key_id} ({entry.get('label') or 'a laptop'}) was revoked at "
            "the centre; its bundles are no longer trusted"
        )
    return PublicKeys.from_json(entry)


# --- with a link -----------------------------------------------------------------------------


def sync_with_centre(api: Api, home: Path, project_id: int, label: str) -> str:
    """Register this laptop's key, pin the centre's key, learn the project's laptops. A server
    without the bundle API is left alone. Returns a line for the command's output."""
    from sync_client.http import ApiProblem

    public, made = init_keys(home)
    try:
        api.json(
            "POST",
            "/api/v1/bundle-keys",
            json_body={**public.to_json(), "label": label},
            ok=(200, 201),
        )
        centre = api.json("GET", f"/api/v1/projects/{project_id}/bundle-key")
        members = api.json("GET", f"/api/v1/projects/{project_id}/bundle-keys")
    except ApiProblem as problem:
        if problem.status == 404 and problem.detail.startswith("no route"):
            return "this server does not take bundles"
        raise
    pinned = pin_centre_key(home, project_id, centre)
    known = peers(home)
    for entry in members if isinstance(members, list) else []:
        key = str(entry.get("key_id") or "")
        if not key or key == public.key_id:
            continue
        known[key] = {
            "key_id": key,
            "sign_public": entry.get("sign_public"),
            "enc_public": entry.get("enc_public"),
            "label": entry.get("label") or "",
            "revoked": bool(entry.get("revoked")),
            "source": "centre",
        }
    save_peers(home, known)
    return (
        f"bundle key {public.key_id}{' (new)' if made else ''} registered; centre key "
        f"{pinned.key_id} pinned"
    )
