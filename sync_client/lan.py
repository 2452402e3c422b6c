"""This laptop's addresses on the local network, for the URL tablets are given when the hub was
told a loopback address (which no tablet can reach).

Found without sending anything: the addresses the host name resolves to, and the source address
the system would pick for a private-network destination (a UDP socket "connected" to it: UDP
connect only chooses a route, no packet leaves).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

# Private destinations to ask the routing table about (never contacted).
_ROUTE_PROBES = ("10.255.255.255", "192.168.255.255", "172.31.255.255")


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_is_loopback(url: str) -> bool:
    return is_loopback(urlsplit(url).hostname or "")


def lan_addresses() -> list[str]:
    """IPv4 addresses of this laptop other than loopback, most likely first."""
    found: list[str] = []

    def add(address: str) -> None:
        if (
            address
            and not is_loopback(address)
            and address not in found
            and not ipaddress.ip_address(address).is_link_local
        ):
            found.append(address)

    for target in _ROUTE_PROBES:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((target, 9))
                add(str(probe.getsockname()[0]))
        except OSError:
            continue
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        infos = []
    for info in infos:
        add(str(info[4][0]))
    return found


def loopback_advice(host: str, port: int) -> list[str]:
    """What to tell a coordinator whose hub address is loopback: the option to listen on every
    network, and the URL for each of this laptop's addresses."""
    addresses = lan_addresses()
    lines = [
        f"{host} (loopback) is this laptop only: no tablet can reach it, and a QR code "
        "with it is useless;",
        "listen on every network with `fieldsync hub --host 0.0.0.0`, and give tablets",
    ]
    if addresses:
        lines.append("one of these URLs (one per network of this laptop):")
        lines.extend(f"  http://{address}:{port}" for address in addresses)
    else:
        lines.append(
            "this laptop's address on the camp network: it has none now (connect it to the "
            "camp's Wi-Fi or router first)"
        )
    return lines
