"""The URL tablets reach this server at, for links printed by commands (no request to read it
from).

``FIELDSYNC_PUBLIC_URL`` (or ``--base-url``) says it. Without them the best guess is the address
``fieldsync-server run`` last served on, which it records in the data directory; without that,
``http://127.0.0.1:5000``. A guess is said to be one, and a loopback host (which no tablet can
reach) comes with the machine's LAN addresses to use instead.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from server.files import private_dir, write_private
from server.settings import Settings

DEFAULT_URL = "http://127.0.0.1:5000"
SERVING_FILE = "serving.json"
# Addresses that mean "every interface" when bound; a link needs one a tablet can reach.
_ANY_ADDRESS = {"0.0.0.0", "::", ""}  # noqa: S104


@dataclass(frozen=True)
class PublicUrl:
    url: str
    guessed: bool
    reason: str  # where the URL comes from, said to the user when it is a guess


def record_serving_address(data_dir: Path, host: str, port: int) -> None:
    """Remember where ``run`` serves, so commands can build links with the right port."""
    private_dir(data_dir)
    write_private(data_dir / SERVING_FILE, json.dumps({"host": host, "port": port}))


def forget_serving_address(data_dir: Path) -> None:
    (data_dir / SERVING_FILE).unlink(missing_ok=True)


def _recorded(data_dir: Path) -> tuple[str, int] | None:
    try:
        data = json.loads((data_dir / SERVING_FILE).read_text())
        return str(data["host"]), int(data["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def public_url(settings: Settings, given: str | None = None) -> PublicUrl:
    """The base URL for links handed to devices: ``given`` (``--base-url``), else
    ``FIELDSYNC_PUBLIC_URL``, else a guess from the address ``run`` serves on."""
    if given:
        return PublicUrl(given.rstrip("/"), guessed=False, reason="--base-url")
    if settings.public_url:
        return PublicUrl(settings.public_url.rstrip("/"), False, "FIELDSYNC_PUBLIC_URL")
    recorded = _recorded(settings.data_dir)
    if recorded is None:
        return PublicUrl(DEFAULT_URL, True, "no server has been started from this data directory")
    host, port = recorded
    if host in _ANY_ADDRESS or ipaddress_is_unspecified(host):
        lan = lan_addresses()
        host = lan[0] if lan else "127.0.0.1"
    return PublicUrl(
        f"http://{_url_host(host)}:{port}",
        True,
        f"built from the address 'fieldsync-server run' serves on ({host}, port {port})",
    )


def ipaddress_is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses on its networks (not loopback), best first."""
    found: list[str] = []
    # Connecting a UDP socket sends nothing; it makes the system pick the outgoing interface.
    for probe in ("10.255.255.255", "192.168.255.255", "172.31.255.255"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 1))
                found.append(sock.getsockname()[0])
        except OSError:
            continue
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        found.extend(str(info[4][0]) for info in infos)
    except OSError:
        pass
    usable = []
    for address in found:
        ip = ipaddress.ip_address(address)
        if not (ip.is_loopback or ip.is_unspecified or ip.is_link_local) and address not in usable:
            usable.append(address)
    return usable


def with_host(url: str, host: str) -> str:
    """``url`` with its host replaced (scheme and port kept)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{_url_host(host)}{port}{parts.path}".rstrip("/")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
