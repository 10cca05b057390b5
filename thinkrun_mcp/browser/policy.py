"""URL rules: which URLs a session may load, and which addresses its browser may connect to.

A :class:`UrlPolicy` answers three questions, none of which needs DNS:

- :meth:`UrlPolicy.verdict`: may this URL be loaded (scheme, avoided and allowed
  domains, a host written as a blocked address)? Asked before ``browser_navigate``,
  ``startingPoint`` and page-cache loads, so a plainly blocked URL fails fast with
  ``url_blocked`` and the page stays where it was.
- :meth:`UrlPolicy.host_verdict`: may the browser connect to this host name at all?
- :meth:`UrlPolicy.address_verdict`: may it connect to this IP address?

The last two are asked by the egress proxy (:mod:`.egress`) for every connection
the browser opens, after it has resolved the host itself: that is where the rules
are enforced. The checks before a load only give an early, clear answer.

Domain patterns: ``example.com`` and ``*.example.com`` both match example.com
and every subdomain; other wildcards are shell-style (``ads.*``,
``tracker-??.net``). A pattern given as a URL is reduced to its host.

Private networks: with ``block_private`` on, every address in ``blocked_networks``
(default :data:`~thinkrun_mcp.urls.PRIVATE_NETWORKS`: loopback, RFC 1918,
link-local and cloud metadata, unique-local, CGNAT, multicast, unspecified and
reserved) is refused, and so are ``localhost`` and ``*.localhost`` while loopback
is among them. IPv4 addresses count in any spelling a URL parser accepts
(``http://2130706433/``, ``http://0x7f.1/``) and inside IPv4-mapped and NAT64
IPv6 addresses (``http://[::ffff:127.0.0.1]/``).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import ThinkRunError
from ..text import clip
from ..urls import PRIVATE_NETWORKS, host_matches, normalize_pattern

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["IPAddress", "UrlPolicy", "host_matches", "ip_of_host", "normalize_pattern"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_ALWAYS_ALLOWED = ("about:blank", "about:srcdoc")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOOPBACKS = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


@functools.lru_cache(maxsize=64)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


class UrlPolicy:
    """The rules for one session (or one page-cache render)."""

    def __init__(
        self,
        *,
        schemes: Iterable[str] = ("http", "https"),
        avoid_domains: Iterable[str] = (),
        allow_domains: Iterable[str] = (),
        block_private: bool = False,
        blocked_networks: Iterable[str] = tuple(PRIVATE_NETWORKS),
    ):
        self.schemes = frozenset(s.lower() for s in schemes)
        self.avoid = tuple(p for p in (normalize_pattern(x) for x in avoid_domains) if p)
        self.allow = tuple(p for p in (normalize_pattern(x) for x in allow_domains) if p)
        self.block_private = block_private
        self.blocked_networks = tuple(blocked_networks)
        self._networks = _networks(self.blocked_networks)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, avoid_domains: Iterable[str] = (), allow_domains: Iterable[str] = ()
    ) -> UrlPolicy:
        """The server's rules (schemes, private networks) plus a session's own domain lists."""
        return cls(
            schemes=settings.allowed_schemes,
            avoid_domains=avoid_domains,
            allow_domains=allow_domains,
            block_private=bool(settings.block_private_networks),
            blocked_networks=settings.blocked_networks,
        )

    def with_avoided(self, domains: Iterable[str]) -> UrlPolicy:
        """The same rules with more avoided domains (an agent task's, for its duration)."""
        return UrlPolicy(
            schemes=self.schemes,
            avoid_domains=(*self.avoid, *domains),
            allow_domains=self.allow,
            block_private=self.block_private,
            blocked_networks=self.blocked_networks,
        )

    @property
    def needs_route(self) -> bool:
        """Whether an http(s) request could be refused (when requests are checked by interception)."""
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
        try:
            host = parts.hostname or ""
        except ValueError:
            return "the URL's host cannot be parsed"
        if scheme in ("http", "https", "ws", "wss") and not host:
            return "the URL has no host"
        return self.host_verdict(host) if host else None

    def host_verdict(self, host: str) -> str | None:
        """Why a connection to ``host`` (a name or an address, any spelling) is refused before any DNS lookup."""
        host = host.lower().strip("[]").rstrip(".")
        for pattern in self.avoid:
            if host_matches(host, pattern):
                return f"{host} matches avoided domain {pattern!r}"
        if self.allow and not any(host_matches(host, p) for p in self.allow):
            return f"{host} is not in the allowed domains ({', '.join(self.allow)})"
        if not self.block_private:
            return None
        if host == "localhost" or host.endswith(".localhost"):
            # Browsers resolve these to loopback themselves, whatever DNS says.
            reasons = [self.address_verdict(ip, shown=host) for ip in _LOOPBACKS]
            return next((r for r in reasons if r), None)
        ip = ip_of_host(host)
        return self.address_verdict(ip) if ip is not None else None

    def address_verdict(self, ip: IPAddress, *, shown: str | None = None) -> str | None:
        """Why a connection to the address ``ip`` is refused (``shown`` names it in the reason)."""
        if not self.block_private:
            return None
        judged = ip
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                judged = ip.ipv4_mapped
            elif ip in _NAT64:
                judged = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        net = next((n for n in self._networks if judged.version == n.version and judged in n), None)
        if net is None:
            return None
        label = PRIVATE_NETWORKS.get(str(net), "a blocked network")
        return f"{shown or ip} is in {net} ({label}) and private networks are blocked"

    async def check(self, url: str) -> None:
        """Raise ``url_blocked`` if :meth:`verdict` refuses ``url``."""
        reason = self.verdict(url)
        if reason:
            raise ThinkRunError(
                "url_blocked",
                f"{clip(url, 200)} is blocked: {reason}",
                hint="choose another URL; the session's URL rules are set by session_create (avoidDomains/allowDomains)",
            )


def ip_of_host(host: str) -> IPAddress | None:
    """The address a URL host stands for when it is written as one (any IPv4 spelling), else ``None``."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return _ipv4_number(host)


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
