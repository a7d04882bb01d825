"""No SSRF through a mail account: upstream hosts must be public addresses.

Checked by the connection check and again by every connection a worker makes, unless
the admin allows private hosts (WEBMAIL_ALLOW_PRIVATE_HOSTS).
"""

from __future__ import annotations

import ipaddress
import socket

from django.conf import settings

from webmail.protocols.errors import ProtocolError, map_exception

__all__ = ["HostNotAllowed", "check_host_allowed"]


class HostNotAllowed(ProtocolError):
    temporary_by_default = False


def check_host_allowed(host: str, port: int, *, timeout: float | None = None) -> None:
    """Refuse hosts that resolve to non-public addresses (unless settings allow them).

    The name is resolved again when the client connects; a DNS answer that changes in
    between (rebinding) is not caught here. The window is short, and the clients
    verify TLS certificates, which a rebound private host cannot present.
    """
    if settings.WEBMAIL_ALLOW_PRIVATE_HOSTS:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise map_exception(exc, host=host, port=port, timeout=timeout) from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise HostNotAllowed(
                f"“{host}” points to a private or local address ({address}); this site "
                "does not connect to those."
            )
