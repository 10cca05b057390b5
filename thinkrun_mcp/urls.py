"""URL helpers shared by the browser sessions, the agent and the page cache."""

from __future__ import annotations

import fnmatch
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["host_matches", "normalize_pattern", "normalize_url", "redact_url"]

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
