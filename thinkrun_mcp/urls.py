"""URL helpers shared by the browser sessions, the agent and the page cache."""

from __future__ import annotations

import re

__all__ = ["normalize_url"]

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
