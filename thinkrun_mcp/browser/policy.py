"""URL rules: which URLs a session may load.

A :class:`UrlPolicy` answers for one URL with :meth:`UrlPolicy.verdict` (a reason
string, or ``None`` when allowed). It is enforced in two places:

- before ``browser_navigate`` / ``startingPoint`` / page-cache loads, so a blocked
  URL fails fast with ``url_blocked``;
- by a context route on every request the page makes (navigations, redirects,
  subresources, frames) whenever the policy can refuse an http(s) URL, i.e. when
  it has domain rules or blocks private networks. With only scheme rules the
  route is not installed: Chromium itself never follows an http(s) redirect or
  link into ``file:``, ``chrome:`` or ``data:`` top-level documents.

Domain patterns: ``example.com`` and ``*.example.com`` both match example.com
and every subdomain; other wildcards are shell-style (``ads.*``,
``tracker-??.net``). A pattern given as a URL is reduced to its host.

Private networks: loopback, RFC 1918, link-local, unique-local, CGNAT,
multicast, unspecified and reserved addresses, and ``localhost``/``*.localhost``;
IPv4 addresses in any spelling a URL parser accepts (``http://2130706433/``,
``http://0x7f.1/``) and IPv4-mapped IPv6 (``http://[::ffff:127.0.0.1]/``).
Host names are resolved (cached for a minute) and refused if any address is
private. A DNS answer that changes between our check and Chromium's own lookup
(DNS rebinding) is not caught; run a filtering proxy if that matters to you.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import ThinkRunError
from ..text import clip
from ..urls import host_matches, normalize_pattern

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["UrlPolicy", "host_matches", "normalize_pattern"]

_ALWAYS_ALLOWED = ("about:blank", "about:srcdoc")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_DNS_TTL = 60.0


def _ip_is_private(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
        or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT)
    )


class UrlPolicy:
    """The rules for one session (or one page-cache render)."""

    def __init__(
        self,
        *,
        schemes: Iterable[str] = ("http", "https"),
        avoid_domains: Iterable[str] = (),
        allow_domains: Iterable[str] = (),
        block_private: bool = False,
    ):
        self.schemes = frozenset(s.lower() for s in schemes)
        self.avoid = tuple(p for p in (normalize_pattern(x) for x in avoid_domains) if p)
        self.allow = tuple(p for p in (normalize_pattern(x) for x in allow_domains) if p)
        self.block_private = block_private
        self._dns: dict[str, tuple[float, bool]] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, *, avoid_domains: Iterable[str] = (), allow_domains: Iterable[str] = ()
    ) -> UrlPolicy:
        """The server's rules (schemes, private networks) plus a session's own domain lists."""
        return cls(
            schemes=settings.allowed_schemes,
            avoid_domains=avoid_domains,
            allow_domains=allow_domains,
            block_private=settings.block_private_networks,
        )

    def with_avoided(self, domains: Iterable[str]) -> UrlPolicy:
        """The same rules with more avoided domains (an agent task's, for its duration)."""
        return UrlPolicy(
            schemes=self.schemes,
            avoid_domains=(*self.avoid, *domains),
            allow_domains=self.allow,
            block_private=self.block_private,
        )

    @property
    def needs_route(self) -> bool:
        """Whether an http(s) request could be refused, so every request must be checked."""
        return bool(self.avoid or self.allow or self.block_private)

    def verdict(self, url: str) -> str | None:
        """Why ``url`` is refused, without DNS lookups; ``None`` if these rules allow it."""
        if url in _ALWAYS_ALLOWED:
            return None
        try:
            parts = urlsplit(url)
        except ValueError:
            return "the URL cannot be parsed"
        scheme = parts.scheme.lower()
        if scheme not in self.schemes:
            if not scheme:
                return "the URL has no scheme (use http:// or https://)"
            return f"the {scheme}: scheme is not allowed (allowed: {', '.join(sorted(self.schemes))})"
        host = (parts.hostname or "").lower().rstrip(".")
        if scheme in ("http", "https", "ws", "wss") and not host:
            return "the URL has no host"
        if host:
            for pattern in self.avoid:
                if host_matches(host, pattern):
                    return f"{host} matches avoided domain {pattern!r}"
            if self.allow and not any(host_matches(host, p) for p in self.allow):
                return f"{host} is not in the allowed domains ({', '.join(self.allow)})"
            if self.block_private and _literal_private(host):
                return f"{host} is a private or loopback address and private networks are blocked"
        return None

    async def averdict(self, url: str) -> str | None:
        """Like :meth:`verdict`, and with private-network blocking also resolves the host name."""
        reason = self.verdict(url)
        if reason or not self.block_private:
            return reason
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
        if not host or _is_ip(host) or _ipv4_number(host) is not None:
            return None
        if await self._resolves_private(host):
            return f"{host} resolves to a private or loopback address and private networks are blocked"
        return None

    async def check(self, url: str) -> None:
        """Raise ``url_blocked`` if ``url`` is refused."""
        reason = await self.averdict(url)
        if reason:
            raise ThinkRunError(
                "url_blocked",
                f"{clip(url, 200)} is blocked: {reason}",
                hint="choose another URL; the session's URL rules are set by session_create (avoidDomains/allowDomains)",
            )

    async def _resolves_private(self, host: str) -> bool:
        now = time.monotonic()
        hit = self._dns.get(host)
        if hit and hit[0] > now:
            return hit[1]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
            private = any(_ip_is_private(ipaddress.ip_address(info[4][0].split("%", 1)[0])) for info in infos)
        except (OSError, ValueError):
            private = False  # unresolvable: Chromium will fail the load itself
        self._dns[host] = (now + _DNS_TTL, private)
        return private


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def _ipv4_number(host: str) -> ipaddress.IPv4Address | None:
    """The address of a host written the way URL parsers (and Chromium) read IPv4.

    Besides dotted quads that is one to four parts, each decimal, octal (leading 0) or
    hex (0x): ``2130706433``, ``0x7f.1``, ``0177.0.0.1`` and ``127.1`` are all 127.0.0.1.
    ``None`` when the host is a name.
    """
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        try:
            if part[:2] in ("0x", "0X"):
                numbers.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part[1:], 8))
            elif part.isdigit():
                numbers.append(int(part))
            else:
                return None
        except ValueError:
            return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _literal_private(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return _ip_is_private(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    ip = _ipv4_number(host)
    return ip is not None and _ip_is_private(ip)
