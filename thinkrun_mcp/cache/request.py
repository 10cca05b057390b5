"""What a page-cache fetch asks for (:class:`CacheRequest`) and what a provider brings back (:class:`Fetched`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from ..text import clip

__all__ = ["CacheRequest", "Fetched", "Kind", "canonical_url"]

Kind = Literal["html", "text", "screenshot"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """One spelling per URL for cache keys: lower-case scheme and host, no default port, "/" for an empty path.

    The query (its order can matter) and the fragment (hash-routed apps render by it) are kept.

    Raises:
        ValueError: the URL cannot be parsed (e.g. a port out of range).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return url
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, parts.fragment))


def without_password(url: str) -> str:
    """``url`` with the password of its userinfo masked, for what is logged or stored."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


@dataclass(frozen=True, slots=True)
class CacheRequest:
    """One call of page_cache_html/text/screenshot, validated and with its defaults filled in."""

    kind: Kind
    url: str
    provider: Literal["local", "cloud"]
    sensitive: bool
    timeout_ms: int
    max_age: int
    wait_for: int | str | None = None
    format: Literal["text", "markdown"] = "text"
    full_page: bool = False
    max_dimension: int | None = None
    cloud_options: dict[str, Any] = field(default_factory=dict)
    key: str = ""  # the cache row's key (sha256 of the URL and the content-changing options)
    flight_key: str = ""  # identical concurrent requests share one fetch

    @property
    def shown(self) -> str:
        """The URL as it may appear in messages and logs."""
        if self.sensitive:
            return "the sensitive URL"
        url = without_password(self.url)
        return clip(url, 200)


@dataclass(slots=True)
class Fetched:
    """A provider's answer. ``body`` is the HTML or text, ``image`` the PNG of a screenshot."""

    final_url: str
    status: int | None
    title: str = ""
    content_type: str | None = None
    body: str | None = None
    image: bytes | None = None
    note: str | None = None
    width: int | None = None
    height: int | None = None
    fetched_at: float = 0.0  # epoch seconds
    file: str | None = None  # the cached screenshot's file name, once kept

    @property
    def size(self) -> int:
        if self.image is not None:
            return len(self.image)
        return len(self.body.encode("utf-8")) if self.body else 0

    @property
    def cacheable(self) -> bool:
        """HTTP error pages are answered but never kept as good copies."""
        return self.status is None or self.status < 400

    def describe(self) -> dict[str, Any]:
        """Everything but the content, as stored in a cache row."""
        return {
            "finalUrl": without_password(self.final_url),
            "status": self.status,
            "title": self.title,
            "contentType": self.content_type,
            "note": self.note,
            "width": self.width,
            "height": self.height,
        }

    @classmethod
    def restore(
        cls, meta: dict[str, Any], *, body: str | None, image: bytes | None, fetched_at: float, file: str | None
    ) -> Fetched:
        return cls(
            final_url=meta["finalUrl"],
            status=meta.get("status"),
            title=meta.get("title") or "",
            content_type=meta.get("contentType"),
            body=body,
            image=image,
            note=meta.get("note"),
            width=meta.get("width"),
            height=meta.get("height"),
            fetched_at=fetched_at,
            file=file,
        )
