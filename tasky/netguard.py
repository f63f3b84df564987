"""Which addresses an outbound call may reach, checked where it connects.

Webhook deliveries and the ``http`` worker call URLs that API clients give. Without a
check, such a URL reaches whatever the server can: the cloud's metadata service (and the
credentials it hands out), a database on loopback, the services of a private network.

The check runs at connect time, on every address the name resolves to, and the socket then
connects to one of those checked addresses itself: no second resolution happens between the
check and the connect, so a name whose DNS answer changes in between (DNS rebinding) gains
nothing. The URL's host name still makes the ``Host`` header, the TLS server name and the
certificate check. A redirect followed through :func:`guarded_opener` opens a new
connection, so every hop is checked the same way. No proxy from the environment is used:
the address checked must be the one connected to.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import time
import urllib.request
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _table(*rows: tuple[str, str]) -> list[tuple[IPNetwork, str]]:
    return [(ipaddress.ip_network(net), reason) for net, reason in rows]


_ALWAYS = _table(
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("fe80::/10", "link-local"),
    ("fd00:ec2::254/128", "a cloud metadata address"),
    ("100.100.100.200/32", "a cloud metadata address"),
    ("0.0.0.0/8", "unspecified (this host)"),
    ("::/128", "unspecified (this host)"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("240.0.0.0/4", "reserved (broadcast)"),
)
"""Refused whatever the settings: nothing a webhook or an API call should ever reach."""

_PRIVATE = _table(
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("fc00::/7", "unique-local"),
    ("fec0::/10", "site-local"),
)
"""Refused unless private addresses are allowed; so is any other address that is not
public (``ipaddress``'s ``is_global``: documentation and benchmark ranges and the like)."""

_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(OSError):
    """An outbound call to an address the settings do not allow. The message names the
    address and why; ``always`` says whether any setting could allow it."""

    def __init__(self, address: str, reason: str, *, always: bool):
        rule = "always refused" if always else "refused unless private addresses are allowed"
        super().__init__(f"{address} is {reason}; {rule}")
        self.address = address
        self.reason = reason
        self.always = always


def check_address(ip: str, allow_private: bool) -> None:
    """Raise :class:`AddressRefused` unless a call may connect to ``ip`` (a resolved
    address, IPv4 or IPv6, with or without a ``%scope``). An IPv6 address that embeds an
    IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, NAT64
    ``64:ff9b::/96``, 6to4 ``2002::/16``) is judged by the IPv4 address it leads to."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        name = f"{ip} (leading to {embedded})"
        address = embedded
    else:
        name = ip
    for network, reason in _ALWAYS:
        if address in network:
            raise AddressRefused(name, reason, always=True)
    if allow_private:
        return
    for network, reason in _PRIVATE:
        if address in network:
            raise AddressRefused(name, reason, always=False)
    if not address.is_global:
        raise AddressRefused(name, "not a public address", always=False)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def connect(
    address: tuple[str, int],
    timeout: Any = None,
    source_address: tuple[str, int] | None = None,
    *,
    allow_private: bool,
    deadline: float | None = None,
) -> socket.socket:
    """``socket.create_connection`` with the address check: resolve ``address``, refuse
    them all if any resolved address is refused (a name must not lead to a public and a
    private host by turns), then connect to the checked addresses in turn.

    A numeric ``timeout`` bounds the connect over all the addresses tried and is then left
    on the socket for each later operation, as ``create_connection`` leaves it; anything
    else (the standard library's default marker) keeps the socket's default. A
    ``deadline`` (a ``time.monotonic()`` instant) bounds the connect too, and the socket
    is left with what remains of it, so that a TLS handshake next ends by it as well.
    Resolution itself is bounded by the system resolver's own timeout."""
    host, port = address
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for *_, sockaddr in infos:
        check_address(str(sockaddr[0]), allow_private)
    timed = isinstance(timeout, (int, float))
    ends = [time.monotonic() + timeout] if timed else []
    ends += [deadline] if deadline is not None else []
    end = min(ends, default=None)
    error: OSError = OSError(f"getaddrinfo returned no address for {host}")
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            if end is not None:
                sock.settimeout(time_left(end))
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            if deadline is not None:
                sock.settimeout(time_left(deadline))
            elif timed:
                sock.settimeout(timeout)
        except OSError as exc:
            sock.close()
            error = exc
            if isinstance(exc, TimeoutError):
                break
            continue
        return sock
    raise error


def time_left(end: float) -> float:
    """The seconds until ``end`` (a ``time.monotonic()`` instant); a ``TimeoutError``
    once there are none."""
    left = end - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


class GuardedHTTPConnection(http.client.HTTPConnection):
    """An ``http.client`` connection that connects through :func:`connect`; ``deadline``
    as there."""

    def __init__(
        self, *args: Any, allow_private: bool, deadline: float | None = None, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(
            connect, allow_private=allow_private, deadline=deadline
        )


class GuardedHTTPSConnection(GuardedHTTPConnection, http.client.HTTPSConnection):
    """The TLS twin of :class:`GuardedHTTPConnection`: the TLS server name and the
    certificate check use the URL's host name, the socket goes to the checked address."""


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allow_private: bool):
        super().__init__()
        self._connection = functools.partial(GuardedHTTPConnection, allow_private=allow_private)

    def http_open(self, req):
        return self.do_open(self._connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allow_private: bool):
        super().__init__()
        self._connection = functools.partial(GuardedHTTPSConnection, allow_private=allow_private)

    def https_open(self, req):
        return self.do_open(self._connection, req)


def guarded_opener(allow_private: bool, follow_redirects: bool) -> urllib.request.OpenerDirector:
    """A ``urllib`` opener for http and https URLs only, each connection checked by
    :func:`connect`; a refused address surfaces as ``urllib.error.URLError`` whose
    ``reason`` is the :class:`AddressRefused`. With ``follow_redirects``, redirects are
    followed as urllib does (each hop a new, checked, connection) but only to http(s) URLs
    (any other scheme is ``unknown url type``); without it, a 3xx is an ``HTTPError`` like
    any other status that is not 2xx."""
    opener = urllib.request.OpenerDirector()
    handlers: list[urllib.request.BaseHandler] = [
        urllib.request.UnknownHandler(),
        _HTTPHandler(allow_private),
        _HTTPSHandler(allow_private),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ]
    if follow_redirects:
        handlers.append(urllib.request.HTTPRedirectHandler())
    for handler in handlers:
        opener.add_handler(handler)
    return opener
