"""URL helpers shared by the browser sessions, the agent and the page cache."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["PRIVATE_NETWORKS", "host_matches", "is_loopback_host", "normalize_pattern", "normalize_url", "redact_url"]

# The networks refused when private networks are blocked (the default of ``blocked_networks``), and what
# each is, for the messages that name them. IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d)
# IPv6 addresses are judged by the IPv4 address they carry. One network a line reads as a table: the
# formatter leaves it as laid out.
# fmt: off
PRIVATE_NETWORKS: dict[str, str] = {
    "0.0.0.0/8":       "this network",
    "10.0.0.0/8":      "private",
    "100.64.0.0/10":   "carrier-grade NAT",
    "127.0.0.0/8":     "loopback",
    "169.254.0.0/16":  "link-local, cloud metadata",
    "172.16.0.0/12":   "private",
    "192.0.0.0/24":    "IETF protocol assignments",
    "192.0.2.0/24":    "documentation",
    "192.88.99.0/24":  "6to4 relay",
    "192.168.0.0/16":  "private",
    "198.18.0.0/15":   "benchmarking",
    "198.51.100.0/24": "documentation",
    "203.0.113.0/24":  "documentation",
    "224.0.0.0/4":     "multicast",
    "240.0.0.0/4":     "reserved, broadcast",
    "::/128":          "unspecified",
    "::1/128":         "loopback",
    "64:ff9b:1::/48":  "local NAT64",
    "100::/64":        "discard",
    "2001::/23":       "IETF protocol assignments",
    "2001:db8::/32":   "documentation",
    "fc00::/7":        "unique local",
    "fe80::/10":       "link-local",
    "fec0::/10":       "site-local",
    "ff00::/8":        "multicast",
}
# fmt: on

_HOSTLIKE = re.compile(r"^[\w.-]+(:\d+)?(/.*)?$")


def normalize_url(url: str) -> str:
    """Trim, and add a scheme to bare hosts ("example.com" → https://, "localhost:8000" → http://)."""
    url = url.strip()
    if "://" in url or url.startswith(("about:", "data:", "javascript:", "file:", "chrome:", "blob:", "view-source:")):
        return url
    if _HOSTLIKE.match(url):
        host = url.split("/", 1)[0].split(":", 1)[0]
        local = host in ("localhost", "127.0.0.1") or host.endswith(".localhost")
        return ("http://" if local else "https://") + url
    return url


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a bind address or a URL's host) is this machine only: localhost, 127.0.0.0/8, ::1."""
    host = host.strip().strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_pattern(pattern: str) -> str:
    """Lower-case host pattern from ``example.com``, ``*.example.com`` or a full URL."""
    p = pattern.strip().lower()
    if "://" in p:
        p = urlsplit(p).hostname or ""
    p = p.split("/", 1)[0]
    if p.count(":") == 1:  # host:port
        p = p.split(":", 1)[0]
    return p.rstrip(".")


def host_matches(host: str, pattern: str) -> bool:
    """Whether ``host`` matches one normalized domain pattern.

    ``example.com`` and ``*.example.com`` both match example.com and every subdomain;
    other wildcards are shell-style (``ads.*``, ``tracker-??.net``).
    """
    host = host.lower().rstrip(".")
    if pattern.startswith("*."):
        base = pattern[2:]
        if "*" not in base and "?" not in base:
            return host == base or host.endswith("." + base)
    if "*" in pattern or "?" in pattern or "[" in pattern:
        return fnmatch.fnmatchcase(host, pattern)
    return host == pattern or host.endswith("." + pattern)


def redact_url(url: str) -> str:
    """``url`` fit to show: a password in it and the values of its query (tokens, as Browserless takes) masked."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = f"{parts.username}:***@{netloc.rsplit('@', 1)[1]}"
        query = urlencode([(k, "***") for k, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    except ValueError:  # not a URL we can take apart: show nothing of it
        return "<unreadable URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
