"""Refuses, and records, every attempt of the measuring child to reach beyond the loopback.

Installed before anything else is imported, so a variant that fetches something at start-up
(OpenLIT's pricing JSON, for one, when not given a local file) fails fast instead of reaching the
internet, and the attempt shows in the results. It covers the Python socket layer that requests,
urllib3, httpx and the standard library use; extensions opening sockets in C are not covered,
and none of the variants' code paths here uses one.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

attempts: list[str] = []
"""``"connect host:port"`` or ``"resolve host"``, in order, for the results."""

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def _is_local(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def install() -> None:
    """Patch ``socket`` so that only loopback addresses and Unix sockets can be reached."""
    resolve = socket.getaddrinfo
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_local(host):
            attempts.append(f"resolve {host!r}")
            raise OSError(f"bench/peers: no network in the measuring child (resolve {host!r})")
        return resolve(host, *args, **kwargs)

    def refused(sock: socket.socket, address: Any) -> bool:
        if sock.family == socket.AF_UNIX or _is_local(address[0]):
            return False
        attempts.append(f"connect {address[0]}:{address[1]}")
        return True

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        if refused(sock, address):
            raise OSError(f"bench/peers: no network in the measuring child (connect {address!r})")
        connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
        if refused(sock, address):
            return 111  # ECONNREFUSED
        return connect_ex(sock, address)

    socket.getaddrinfo = guarded_getaddrinfo
    socket.socket.connect = guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign,assignment]
