"""The egress policy: which hosts an app's connectors may reach, and at which addresses.

Hosts are matched exactly (``api.example.com`` or ``api.example.com:8443``), never by
suffix or pattern. A host's name is resolved once; every address it resolves to must be
public, unless it falls in a network the configuration allows (``egress_allow_private``),
and the gateway then connects to the checked address itself, so a second lookup (DNS
rebinding) cannot send the request elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence

from strongroom.errors import ConfigError, EgressDeniedError

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (TCP), via the system resolver."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _special(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _special(ip.ipv4_mapped)
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


class EgressPolicy:
    """Per-app exact host allowlists plus the private networks that are allowed anyway."""

    def __init__(
        self,
        allowlist: Mapping[str, Sequence[str]],
        allow_private: Sequence[str] = (),
        resolver: Resolver = system_resolver,
    ) -> None:
        self._allow = {app: frozenset(h.lower() for h in hosts) for app, hosts in allowlist.items()}
        try:
            self._private_ok = tuple(ipaddress.ip_network(n, strict=False) for n in allow_private)
        except ValueError:
            raise ConfigError("egress_allow_private holds a network that is not a CIDR") from None
        self._resolve = resolver

    def allows_host(self, app: str, host: str, port: int) -> bool:
        hosts = self._allow.get(app, frozenset())
        host = host.lower()
        return host in hosts or f"{host}:{port}" in hosts

    def address(self, app: str, host: str, port: int) -> str:
        """The checked address to connect to; `EgressDeniedError` if the host may not be reached."""
        if not self.allows_host(app, host, port):
            raise EgressDeniedError("the upstream host is not on the app's egress allowlist")
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        addresses = [str(literal)] if literal is not None else self._resolve(host, port)
        if not addresses:
            raise EgressDeniedError("the upstream host does not resolve")
        for text in addresses:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
            if _special(ip) and not any(ip in net for net in self._private_ok):
                raise EgressDeniedError(
                    "the upstream host resolves to a private, loopback or link-local address"
                )
        return addresses[0]
